"""L3 axial CT slice: body outline, subcutaneous fat, abdominal wall (with rectus) / psoas /
paraspinal muscle, visceral fat around liver, spleen, kidneys, aorta and gas-filled bowel loops,
vertebra, ribs, the CT table; elastically deformed and rotated. Values in HU (integers, as CT
stores them), with or without contrast enhancement."""

from __future__ import annotations

import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.io.dicom_write import DicomSeriesSpec
from radiomark.phantoms.case import PhantomCase, PhantomSeries, make_study
from radiomark.phantoms.shapes import elastic_deform, ellipsoid, paint, rotate_labels

LABELS = {1: "skeletal_muscle", 2: "subcutaneous_fat", 3: "visceral_fat"}
_MUSCLE, _SAT, _VAT, _BONE, _BOWEL, _TABLE, _LIVER, _KIDNEY, _GAS, _VESSEL = range(1, 11)


def _tissue_map(rng: np.random.Generator, size: int) -> np.ndarray:
    """Tissue ids on a (row = posterior, column = patient's left) grid; see the module docstring."""
    shape = (size, size)
    centre = np.array([0.5, 0.5]) * size + rng.uniform(-0.03, 0.03, 2) * size
    body_radii = np.array([rng.uniform(0.27, 0.34), rng.uniform(0.36, 0.45)]) * size
    fat_thickness = rng.uniform(0.02, 0.13) * size
    wall_thickness = rng.uniform(0.015, 0.045) * size
    tissue = np.zeros(shape, dtype=np.int64)
    inner_radii = body_radii - fat_thickness
    cavity_radii = inner_radii - wall_thickness
    cavity = ellipsoid(shape, centre, cavity_radii)
    tissue[ellipsoid(shape, centre, body_radii)] = _SAT
    tissue[ellipsoid(shape, centre, inner_radii)] = _MUSCLE
    for side in (-1, 1):  # rectus abdominis: thicker muscle either side of the anterior midline
        rectus = centre + np.array([-inner_radii[0] + wall_thickness, side * 0.06 * size])
        tissue[ellipsoid(shape, rectus, np.array([wall_thickness * rng.uniform(0.8, 1.6), 0.06 * size]))] = _MUSCLE
    tissue[cavity] = _VAT
    organ_scale = rng.uniform(0.8, 1.25)  # larger organs = less visceral fat
    if rng.random() < 0.8:  # liver, on the patient's right (small column index), anterior
        liver = centre + cavity_radii * np.array([-0.05, -0.45])
        tissue[ellipsoid(shape, liver, cavity_radii * np.array([0.6, 0.45]) * organ_scale,
                         rng.uniform(-20, 20)) & cavity] = _LIVER
    if rng.random() < 0.5:  # spleen, left posterior
        spleen = centre + cavity_radii * np.array([0.35, 0.65])
        tissue[ellipsoid(shape, spleen, cavity_radii * np.array([0.25, 0.2]) * organ_scale) & cavity] = _LIVER
    spine = centre + np.array([0.62 * cavity_radii[0], 0.0])
    for side in (-1, 1):
        kidney = spine + np.array([-0.06 * size, side * 0.17 * size])
        tissue[ellipsoid(shape, kidney, np.array([0.06, 0.045]) * size * organ_scale, side * 30) & cavity] = _KIDNEY
    for _ in range(int(rng.integers(6, 14))):  # bowel loops, some holding gas
        spot = centre + rng.uniform(-0.7, 0.5, 2) * cavity_radii * np.array([1.0, 0.8])
        radii = rng.uniform(0.03, 0.08, 2) * size * organ_scale
        loop = ellipsoid(shape, spot, radii, rng.uniform(0, 180)) & cavity & (tissue == _VAT)
        tissue[loop] = _BOWEL
        if rng.random() < 0.4:
            tissue[ellipsoid(shape, spot, radii * 0.5) & loop] = _GAS
    aorta = spine + np.array([-0.09 * size, 0.025 * size])
    tissue[ellipsoid(shape, aorta, np.array([0.022, 0.022]) * size)] = _VESSEL
    for side in (-1, 1):
        psoas = spine + np.array([-0.02 * size, side * 0.1 * size])
        tissue[ellipsoid(shape, psoas, np.array([0.05, 0.045]) * size * rng.uniform(0.7, 1.5))] = _MUSCLE
        erector = spine + np.array([0.12 * size, side * 0.075 * size])  # erector spinae, large at L3
        tissue[ellipsoid(shape, erector, np.array([0.065, 0.07]) * size * rng.uniform(0.8, 1.4), side * 15)
               & (tissue != 0)] = _MUSCLE
        quadratus = spine + np.array([0.02 * size, side * 0.17 * size])  # quadratus lumborum
        tissue[ellipsoid(shape, quadratus, np.array([0.03, 0.045]) * size * rng.uniform(0.6, 1.3), side * 40)
               & (tissue != 0)] = _MUSCLE
        for _ in range(int(rng.integers(0, 4))):  # ribs cut across in the lateral abdominal wall
            angle = np.deg2rad(rng.uniform(20, 75))
            rib = centre + np.array([np.cos(angle) * -0.2, side * np.sin(angle)]) * (inner_radii - wall_thickness / 2)
            tissue[ellipsoid(shape, rib, np.array([0.018, 0.012]) * size)] = _BONE
    tissue[ellipsoid(shape, spine, np.array([0.065, 0.07]) * size)] = _BONE
    tissue[ellipsoid(shape, spine + np.array([0.1 * size, 0.0]), np.array([0.05, 0.015]) * size)] = _BONE
    if rng.random() < 0.7:  # the CT table: a band behind the patient's back
        rows = np.arange(size)[:, None]
        top = centre[0] + body_radii[0] + rng.uniform(0.01, 0.04) * size
        tissue[(rows >= top) & (rows < top + max(2, size // 64)) & (tissue == 0)] = _TABLE
    tissue = elastic_deform(tissue, rng, amplitude=rng.uniform(0.005, 0.02) * size)
    return rotate_labels(tissue, rng.uniform(-10, 10))


def generate(seed: int, size: int = 256, noise_hu: float = 10.0) -> PhantomCase:
    """A single L3 slice of ``size``² pixels with its muscle/fat label map and body composition.

    Truth: areas in cm² (pixel count × pixel area), muscle mean HU over the stored pixels, and
    the indices that use the case's height and weight (SMI cm²/m², SMA/BMI, SMA/weight).
    """
    rng = np.random.default_rng(seed)
    tissue = _tissue_map(rng, size)
    muscle_hu = rng.uniform(20.0, 55.0)
    contrast = rng.random() < 0.6
    hu = paint(tissue, {0: -1000.0, _MUSCLE: muscle_hu, _SAT: rng.uniform(-115, -80), _VAT: rng.uniform(-110, -75),
                        _BONE: rng.uniform(250, 600), _BOWEL: rng.uniform(10, 45), _TABLE: rng.uniform(100, 400),
                        _LIVER: rng.uniform(50, 110) if contrast else rng.uniform(45, 65),
                        _KIDNEY: rng.uniform(120, 200) if contrast else rng.uniform(25, 40), _GAS: -950.0,
                        _VESSEL: rng.uniform(150, 280) if contrast else rng.uniform(35, 50)})
    hu = np.clip(np.round(hu + rng.normal(0.0, noise_hu, hu.shape)), -1024, 3000).astype(np.int16)
    spacing = round(float(rng.uniform(380.0, 460.0)) / size, 4)
    z_mm = float(rng.uniform(-200.0, 100.0))
    image = Image(array=hu, spacing_mm=(spacing, spacing),
                  origin_mm=(-spacing * size / 2, -spacing * size / 2, z_mm),
                  metadata={"modality": "CT", "slice_thickness_mm": 3.0})
    labels = LabelMap.like(image, np.where(tissue <= 3, tissue, 0), LABELS)
    sex = "F" if rng.random() < 0.5 else "M"
    height_m = round(float(rng.uniform(1.52, 1.72) if sex == "F" else rng.uniform(1.62, 1.90)), 2)
    weight_kg = round(float(rng.uniform(45.0, 95.0)), 1)
    pixel_cm2 = spacing * spacing / 100.0
    sma = float(np.count_nonzero(tissue == _MUSCLE) * pixel_cm2)
    bmi = weight_kg / height_m**2
    truth = {"sma_cm2": sma, "sat_area_cm2": float(np.count_nonzero(tissue == _SAT) * pixel_cm2),
             "vat_area_cm2": float(np.count_nonzero(tissue == _VAT) * pixel_cm2),
             "muscle_mean_hu": float(hu[tissue == _MUSCLE].mean()), "muscle_design_hu": muscle_hu,
             "smi_cm2_m2": sma / height_m**2, "sma_per_bmi_cm2_m2_per_kg": sma / bmi,
             "sma_per_weight_cm2_kg": sma / weight_kg}
    case_id = f"sarcopenia-{seed:04d}"
    study = make_study(case_id, patient_sex=sex, patient_age_years=int(rng.integers(40, 85)), patient_height_m=height_m,
                      patient_weight_kg=weight_kg)
    spec = DicomSeriesSpec("CT", "Abdomen L3 3.0 B30f", 2, intercept=-1024.0,
                           extra={"KVP": "120", "BodyPartExamined": "ABDOMEN", "WindowCenter": "40",
                                  "WindowWidth": "400"})  # soft tissue, as scanners store it
    return PhantomCase("sarcopenia", case_id, seed, study, (PhantomSeries("ct_l3", image, spec),),
                       labels, truth, {"sex": sex, "height_m": height_m, "weight_kg": weight_kg})

