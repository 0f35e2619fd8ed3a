"""Non-contrast head CT volume: skull, cortex (grey matter), white matter, ventricles and the four
gray/white-matter-ratio landmarks (caudate, putamen, posterior limb of the internal capsule,
corpus callosum). ``edema`` in [0, 1] narrows grey/white contrast as after cardiac arrest.

Array axes are (slice, row, column) = (+z superior, +y posterior, +x patient's left), so
structures of the patient's right lie at small column indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.io.dicom_write import DicomSeriesSpec
from radiomark.phantoms.case import PhantomCase, PhantomSeries, make_study
from radiomark.phantoms.shapes import ellipsoid, paint

LABELS = {1: "caudate_right", 2: "caudate_left", 3: "putamen_right", 4: "putamen_left",
          5: "internal_capsule_right", 6: "internal_capsule_left", 7: "corpus_callosum"}
_SKULL, _CORTEX, _WHITE, _CSF = 10, 11, 12, 13
_SHAPE = (40, 96, 80)
_SPACING_MM = (3.0, 2.0, 2.0)


def _tissue_map(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    centre = np.array(shape) / 2 + rng.uniform(-1.5, 1.5, 3)
    head = np.array([0.45, 0.46, 0.44]) * shape * rng.uniform(0.94, 1.04)
    tissue = np.zeros(shape, dtype=np.int64)
    tissue[ellipsoid(shape, centre, head)] = _SKULL
    tissue[ellipsoid(shape, centre, head - [1.5, 3.5, 3.5])] = _CORTEX
    tissue[ellipsoid(shape, centre, head - [3.0, 7.0, 7.0])] = _WHITE
    scale = np.array(shape) / np.array(_SHAPE)
    for side, sign in ((0, -1), (1, 1)):  # side 0 = patient's right = smaller column index
        lateral = sign * scale[2]
        ventricle = centre + [1.0 * scale[0], -4 * scale[1], lateral * 3.5]
        tissue[ellipsoid(shape, ventricle, np.array([3.0, 12.0, 2.5]) * scale)] = _CSF
        caudate = centre + [1.0 * scale[0], -10 * scale[1], lateral * 7.5]
        tissue[ellipsoid(shape, caudate, np.array([2.5, 4.0, 2.5]) * scale)] = 1 + side
        putamen = centre + [-1.0 * scale[0], -3 * scale[1], lateral * 15.0]
        tissue[ellipsoid(shape, putamen, np.array([2.5, 7.0, 2.5]) * scale, angle_deg=sign * 10)] = 3 + side
        capsule = centre + [-1.0 * scale[0], 3 * scale[1], lateral * 10.5]
        tissue[ellipsoid(shape, capsule, np.array([2.0, 5.0, 1.6]) * scale, angle_deg=-sign * 25)] = 5 + side
    callosum = centre + [4.5 * scale[0], -2 * scale[1], 0]
    tissue[ellipsoid(shape, callosum, np.array([1.3, 16.0, 9.0]) * scale) & (tissue != _CSF)] = 7
    return tissue


def generate(seed: int, shape: tuple[int, int, int] = _SHAPE, noise_hu: float = 3.0) -> PhantomCase:
    """A head CT phantom with landmark labels; truth holds per-structure mean HU and the GWRs."""
    rng = np.random.default_rng(seed)
    tissue = _tissue_map(rng, shape)
    edema = float(rng.uniform(0.0, 1.0))
    grey = rng.uniform(36.0, 40.0) - 5.0 * edema
    white = rng.uniform(25.0, 28.0) + 1.5 * edema
    values = {0: -1000.0, _SKULL: 1000.0, _CORTEX: grey, _WHITE: white, _CSF: 8.0,
              1: grey + rng.uniform(-1, 1), 2: grey + rng.uniform(-1, 1),
              3: grey + rng.uniform(-1, 1), 4: grey + rng.uniform(-1, 1),
              5: white - rng.uniform(0, 1.5), 6: white - rng.uniform(0, 1.5), 7: white + rng.uniform(-1, 1)}
    hu = np.round(paint(tissue, values) + rng.normal(0.0, noise_hu, shape) * (tissue > 0)).astype(np.int16)
    spacing = tuple(s * d / n for s, d, n in zip(_SPACING_MM, _SHAPE, shape, strict=True))
    image = Image(array=hu, spacing_mm=spacing, origin_mm=(-80.0, -96.0, float(rng.uniform(-60, -40))),
                  metadata={"modality": "CT"})
    labels = LabelMap.like(image, np.where(tissue <= 7, tissue, 0), LABELS)
    mean_hu = {name: float(hu[tissue == value].mean()) for value, name in LABELS.items()}
    design = {name: float(values[value]) for value, name in LABELS.items()}

    def ratio(means: dict[str, float], side: str) -> float:
        return ((means[f"caudate_{side}"] + means[f"putamen_{side}"])
                / (means[f"internal_capsule_{side}"] + means["corpus_callosum"]))

    truth: dict[str, Any] = {f"mean_hu_{name}": value for name, value in mean_hu.items()}
    truth |= {f"design_hu_{name}": value for name, value in design.items()}
    truth |= {f"gwr_bg_{side}": ratio(mean_hu, side) for side in ("right", "left")}
    truth |= {f"design_gwr_bg_{side}": ratio(design, side) for side in ("right", "left")}
    truth |= {"edema_fraction": edema, "design_grey_hu": grey, "design_white_hu": white,
              "volume_mm3": {name: float(np.count_nonzero(tissue == v) * np.prod(spacing))
                             for v, name in LABELS.items()}}
    return head_ct_case(f"brain-gwr-{seed:04d}", seed, rng, image, labels, truth, {"edema_fraction": edema},
                        "Head 3.0 H30s")


def head_ct_case(case_id: str, seed: int, rng: np.random.Generator, image: Image, labels: LabelMap,
                 truth: dict[str, Any], clinical: dict[str, Any], description: str,
                 data_kind: str = "synthetic phantom") -> PhantomCase:
    """A head CT case: a random patient (sex, age) and the CT series stored as DICOM would be."""
    study = make_study(case_id, patient_sex="M" if rng.random() < 0.6 else "F",
                       patient_age_years=int(rng.integers(30, 85)))
    # A brain window, as scanners store one: viewers open the series in it.
    spec = DicomSeriesSpec("CT", description, 2, intercept=-1024.0, extra={
        "KVP": "120", "BodyPartExamined": "HEAD", "WindowCenter": "40", "WindowWidth": "80"})
    return PhantomCase("brain-gwr", case_id, seed, study, (PhantomSeries("ct_head", image, spec),),
                       labels, truth, clinical, data_kind)


#: T1-weighted-like signal as a function of CT HU (piecewise linear): bright white matter, darker
#: grey matter, dark CSF and skull. Not monotone in HU, so only a multi-modal metric can align it.
_T1_FROM_HU = ((-1000.0, -100.0, 5.0, 15.0, 27.0, 33.0, 40.0, 100.0, 1000.0),
               (0.0, 0.0, 200.0, 350.0, 900.0, 700.0, 560.0, 300.0, 90.0))


def t1_like(ct: Image, rng: np.random.Generator, noise: float = 15.0) -> Image:
    """An MR-like (T1-weighted) image of a CT phantom: its HU mapped through a non-monotone curve, plus noise."""
    signal = np.interp(np.asarray(ct.array, dtype=float), *_T1_FROM_HU) + rng.normal(0.0, noise, ct.shape)
    return Image(np.clip(signal, 0, None).astype(np.float32), ct.spacing_mm, ct.origin_mm, ct.direction,
                 {"modality": "MR"})


def mr_ct_pair(seed: int, rotation_deg: tuple[float, float, float] = (3.0, -4.0, 5.0),
               translation_mm: tuple[float, float, float] = (4.0, -3.0, 5.0), mr_spacing_mm: float = 1.5,
               ) -> tuple[PhantomCase, Image, LabelMap, Any]:
    """A CT phantom, an MR-like image of the same head moved by a known rigid motion (rotation
    about the image centre in degrees about LPS x, y, z, then translation in mm) on its own
    ``mr_spacing_mm`` grid, the landmark labels on that MR grid, and the transform a perfect
    registration of the MR onto the CT finds (SimpleITK, fixed CT point -> moving MR point)."""
    import SimpleITK as sitk

    from radiomark.io.sitk import image_from_sitk, image_to_sitk

    case = generate(seed, shape=(60, 96, 80))
    rng = np.random.default_rng(seed + 10_000)
    aligned = t1_like(case.image, rng)
    centre = case.image.index_to_point((np.asarray(case.image.shape) - 1) / 2)
    motion = sitk.Euler3DTransform(centre.tolist(), *np.deg2rad(rotation_deg).tolist(), list(translation_mm))
    extent = np.asarray(case.image.shape) * np.asarray(case.image.spacing_mm)
    size = [int(n) for n in np.round(extent / mr_spacing_mm)[::-1]]
    reference = sitk.Image(size, sitk.sitkFloat32)
    reference.SetSpacing([mr_spacing_mm] * 3)
    reference.SetOrigin(case.image.origin_mm)
    # The MR scanner sees the head moved: MR(p) = aligned(motion(p)).
    mr = sitk.Resample(image_to_sitk(aligned), reference, motion, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    mr_labels = sitk.Resample(image_to_sitk(case.labels), reference, motion, sitk.sitkNearestNeighbor, 0,
                              sitk.sitkUInt8)
    return (case, image_from_sitk(mr, {"modality": "MR"}), image_from_sitk(mr_labels, labels=LABELS),  # type: ignore[return-value]
            motion.GetInverse())
