"""Midbrain multi-echo GRE MRI: five echo magnitudes (S = PD · exp(-TE · R2*)) and a QSM map,
with substantia nigra (neuromelanin-rich laterally, on 3 slices below the red nucleus), crus
cerebri (the reference region), red nucleus and aqueduct.

Array axes (slice, row, column) = (+z superior, +y posterior, +x patient's left).
"""

from __future__ import annotations

import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.io.dicom_write import DicomSeriesSpec
from radiomark.phantoms.case import PhantomCase, PhantomSeries, make_study
from radiomark.phantoms.shapes import ellipsoid, paint

LABELS = {1: "substantia_nigra_right", 2: "substantia_nigra_left",
          3: "crus_cerebri_right", 4: "crus_cerebri_left"}
ECHO_TIMES_MS = (5.0, 15.0, 25.0, 35.0, 45.0)
QSM_STEP_PPM = 1e-4
_BRAIN, _CSF, _MIDBRAIN, _RED_NUCLEUS = 10, 11, 12, 13
_SHAPE = (20, 64, 64)
_SPACING_MM = (1.5, 0.75, 0.75)
SN_SLICES = 3


def _tissue_map(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    tissue = np.full(_SHAPE, _BRAIN, dtype=np.int64)
    centre = np.array([_SHAPE[0] / 2, 30.0, 32.0]) + rng.uniform(-1, 1, 3)
    tissue[ellipsoid(_SHAPE, centre, (30.0, 22.0, 24.0))] = _CSF
    tissue[ellipsoid(_SHAPE, centre + [0, 2, 0], (30.0, 18.0, 20.0))] = _MIDBRAIN
    first_sn = int(centre[0]) - SN_SLICES
    neuromelanin = np.zeros(_SHAPE, dtype=bool)
    for side, sign in ((0, -1), (1, 1)):
        crus = centre + [0, -8.0, sign * 9.0]
        tissue[ellipsoid(_SHAPE, crus, (30.0, 3.5, 8.0), angle_deg=-sign * 35)] = 3 + side
        nigra_centre = centre + [0, -3.0, sign * 7.0]
        nigra_radii = np.array([30.0, 1.8, 7.5]) * rng.uniform(0.9, 1.1)
        nigra = ellipsoid(_SHAPE, nigra_centre, nigra_radii, angle_deg=-sign * 35)
        nigra[: first_sn] = False
        nigra[first_sn + SN_SLICES:] = False
        tissue[nigra] = 1 + side
        lateral = ellipsoid(_SHAPE, nigra_centre + [0, -2.0, sign * 4.0], (30.0, 3.0, 4.5))
        neuromelanin |= nigra & lateral
        red = centre + [0, 4.0, sign * 4.0]
        red_nucleus = ellipsoid(_SHAPE, red, (30.0, 3.0, 3.0))
        red_nucleus[: first_sn + SN_SLICES] = False
        tissue[red_nucleus] = _RED_NUCLEUS
    tissue[ellipsoid(_SHAPE, centre + [0, 10.0, 0], (30.0, 1.2, 1.2))] = _CSF
    return tissue, neuromelanin


def generate(seed: int, noise: float = 12.0) -> PhantomCase:
    """A multi-echo midbrain phantom; truth holds SN volume, neuromelanin and QSM measures."""
    rng = np.random.default_rng(seed)
    tissue, neuromelanin = _tissue_map(rng)
    nigra = np.isin(tissue, (1, 2))
    crus = np.isin(tissue, (3, 4))
    proton_density = {_BRAIN: 700.0, _CSF: 1000.0, _MIDBRAIN: 680.0, _RED_NUCLEUS: 650.0,
                      1: 760.0, 2: 760.0, 3: 600.0, 4: 600.0}
    r2star = {_BRAIN: 18.0, _CSF: 4.0, _MIDBRAIN: 20.0, _RED_NUCLEUS: 45.0, 1: 38.0, 2: 38.0, 3: 22.0, 4: 22.0}
    pd = paint(tissue, proton_density) + neuromelanin * rng.uniform(150.0, 300.0)
    rate = paint(tissue, r2star) / 1000.0  # per ms
    spacing = _SPACING_MM
    origin = (-24.0, -30.0, float(rng.uniform(-20.0, -10.0)))
    echoes = []
    for number, te in enumerate(ECHO_TIMES_MS, start=1):
        signal = pd * np.exp(-te * rate) + rng.normal(0.0, noise, _SHAPE)
        values = np.clip(np.round(signal), 0, 65535).astype(np.uint16)
        echoes.append(Image(array=values, spacing_mm=spacing, origin_mm=origin,
                            metadata={"modality": "MR", "echo_time_ms": te, "echo_number": number}))
    susceptibility = {1: rng.uniform(0.06, 0.14), 2: rng.uniform(0.06, 0.14), 3: -0.02, 4: -0.02,
                      _RED_NUCLEUS: 0.10, _CSF: 0.0, _BRAIN: 0.0, _MIDBRAIN: 0.005}
    qsm_ppm = paint(tissue, susceptibility) + rng.normal(0.0, 0.012, _SHAPE)
    qsm_steps = np.round(qsm_ppm / QSM_STEP_PPM)
    qsm = Image(array=(qsm_steps * QSM_STEP_PPM).astype(np.float32), spacing_mm=spacing, origin_mm=origin,
                metadata={"modality": "MR"})
    labels = LabelMap.like(echoes[0], np.where(tissue <= 4, tissue, 0), LABELS)
    first = echoes[0].array.astype(np.float64)
    sn_values, ref_values = first[nigra], first[crus]
    mean, sd = sn_values.mean(), sn_values.std()
    ref_mean, ref_sd = ref_values.mean(), ref_values.std()
    voxel_mm3 = float(np.prod(spacing))
    sn_qsm = qsm.array[nigra]
    truth = {
        "sn_volume_mm3": float(nigra.sum() * voxel_mm3),
        "sn_volume_right_mm3": float((tissue == 1).sum() * voxel_mm3),
        "sn_volume_left_mm3": float((tissue == 2).sum() * voxel_mm3),
        "nm_volume_ratio": float((sn_values > mean + 3 * sd).sum() / (sn_values > mean + sd).sum()),
        "nm_contrast_ratio": float((mean - ref_mean) / ref_mean),
        "nm_cnr": float((mean - ref_mean) / ref_sd),
        "nm_sn_volume_mm3": float((sn_values > ref_mean + 3 * ref_sd).sum() * voxel_mm3),
        "qsm_mean_above_0015_ppm": float(sn_qsm[sn_qsm > 0.015].mean()),
        "qsm_mean_sn_ppm": float(sn_qsm.mean()),
        "statistics": "SD with ddof=0; ratio statistics over the SN ROI of echo 1; reference = crus cerebri",
    }
    case_id = f"nigra-{seed:04d}"
    study = make_study(case_id, patient_sex="F" if rng.random() < 0.5 else "M",
                       patient_age_years=int(rng.integers(45, 80)))
    series = [PhantomSeries(f"echo{n}", image,
                            DicomSeriesSpec("MR", f"gre_me_nm echo {n}", n,
                                            extra={"EchoTime": f"{image.metadata['echo_time_ms']:g}",
                                                   "EchoNumbers": n, "RepetitionTime": "50",
                                                   "ScanningSequence": "GR", "MagneticFieldStrength": "3"}))
              for n, image in enumerate(echoes, start=1)]
    series.append(PhantomSeries("qsm", qsm, DicomSeriesSpec("MR", "QSM ppm", 20, slope=QSM_STEP_PPM,
                                                            extra={"ImageType": ["DERIVED", "SECONDARY", "QSM"]})))
    return PhantomCase("nigra", case_id, seed, study, tuple(series), labels, truth,
                       {"echo_times_ms": list(ECHO_TIMES_MS)})


#: Neuromelanin-sensitive (MT-prepared T1 TSE) signal per tissue at contrast ratio 0: the SN's
#: neuromelanin makes it brighter than the crus cerebri (real volunteers: SN ≈ 1.22 × crus, crus
#: noise SD ≈ 20 on ≈ 550; ../shared/data/mri-neuromelanin-kcl), CSF is dark.
NM_SIGNAL = {_BRAIN: 500.0, _CSF: 260.0, _MIDBRAIN: 530.0, _RED_NUCLEUS: 470.0,
             1: 550.0, 2: 550.0, 3: 550.0, 4: 550.0}


def generate_nm(seed: int, noise: float = 20.0) -> PhantomCase:
    """A single-contrast neuromelanin-sensitive phantom (the contrast most sites acquire): the same
    anatomy as :func:`generate`, the SN brighter than the crus cerebri by a random contrast ratio
    (0.08–0.35, the laterally neuromelanin-rich part brighter still), a random global gain
    (0.5–2) and a smooth left–right bias field (±10 %); one image ``echo1`` (rank 1), no QSM.
    Truth holds the SN volumes and the neuromelanin measures on that image."""
    rng = np.random.default_rng(seed)
    tissue, neuromelanin = _tissue_map(rng)
    nigra, crus = np.isin(tissue, (1, 2)), np.isin(tissue, (3, 4))
    contrast = rng.uniform(0.08, 0.35)
    signal = paint(tissue, NM_SIGNAL) * (1 + contrast * nigra) + neuromelanin * rng.uniform(20.0, 80.0)
    columns = np.linspace(-1.0, 1.0, _SHAPE[2])
    bias = 1 + rng.uniform(-0.1, 0.1) * columns[None, None, :]
    values = (signal * bias + rng.normal(0.0, noise, _SHAPE)) * rng.uniform(0.5, 2.0)
    origin = (-24.0, -30.0, float(rng.uniform(-20.0, -10.0)))
    image = Image(array=np.clip(np.round(values), 0, 65535).astype(np.uint16), spacing_mm=_SPACING_MM,
                  origin_mm=origin, metadata={"modality": "MR"})
    pixels = image.array.astype(np.float64)
    sn_values, ref_values = pixels[nigra], pixels[crus]
    mean, ref_mean, ref_sd = sn_values.mean(), ref_values.mean(), ref_values.std()
    voxel_mm3 = float(np.prod(_SPACING_MM))
    truth = {
        "sn_volume_mm3": float(nigra.sum() * voxel_mm3),
        "nm_contrast_ratio": float((mean - ref_mean) / ref_mean),
        "nm_cnr": float((mean - ref_mean) / ref_sd),
        "nm_sn_volume_mm3": float((sn_values > ref_mean + 3 * ref_sd).sum() * voxel_mm3),
        "statistics": "SD with ddof=0; reference = crus cerebri",
    }
    case_id = f"nigra-nm-{seed:04d}"
    study = make_study(case_id, patient_sex="F" if rng.random() < 0.5 else "M",
                       patient_age_years=int(rng.integers(20, 80)))
    series = (PhantomSeries("echo1", image, DicomSeriesSpec(
        "MR", "NM t1_tse_mt", 1, extra={"EchoTime": "12", "RepetitionTime": "600", "ScanningSequence": "SE",
                                        "MagneticFieldStrength": "3"})),)
    labels = LabelMap.like(image, np.where(tissue <= 4, tissue, 0), LABELS)
    return PhantomCase("nigra", case_id, seed, study, series, labels, truth, {"contrast": "neuromelanin"})
