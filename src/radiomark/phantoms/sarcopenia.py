"""L3 axial CT slice: body outline, subcutaneous fat, abdominal wall / psoas / paraspinal muscle,
visceral fat between bowel loops, vertebra, air. Values in HU (integers, as CT stores them)."""

from __future__ import annotations

import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.io.dicom_write import DicomSeriesSpec
from radiomark.phantoms.case import PhantomCase, PhantomSeries, make_study
from radiomark.phantoms.shapes import ellipsoid, paint, rotate_labels
from radiomark.recipes import RecipeName

LABELS = {1: "skeletal_muscle", 2: "subcutaneous_fat", 3: "visceral_fat"}
_MUSCLE, _SAT, _VAT, _BONE, _ORGAN, _TABLE = 1, 2, 3, 4, 5, 6


def _tissue_map(rng: np.random.Generator, size: int) -> np.ndarray:
    shape = (size, size)
    centre = np.array([0.5, 0.5]) * size + rng.uniform(-0.03, 0.03, 2) * size
    body_radii = np.array([rng.uniform(0.28, 0.34), rng.uniform(0.38, 0.45)]) * size
    fat_thickness = rng.uniform(0.05, 0.14) * size
    wall_thickness = rng.uniform(0.025, 0.05) * size
    tissue = np.zeros(shape, dtype=np.int64)
    body = ellipsoid(shape, centre, body_radii)
    inner_radii = body_radii - fat_thickness
    inside_fat = ellipsoid(shape, centre, inner_radii)
    cavity = ellipsoid(shape, centre, inner_radii - wall_thickness)
    tissue[body] = _SAT
    tissue[inside_fat] = _MUSCLE
    tissue[cavity] = _VAT
    for _ in range(int(rng.integers(8, 16))):  # bowel loops and organs within the visceral fat
        spot = centre + rng.uniform(-0.6, 0.6, 2) * (inner_radii - wall_thickness) * np.array([0.7, 1.0])
        organ = ellipsoid(shape, spot, rng.uniform(0.03, 0.08, 2) * size, rng.uniform(0, 180)) & cavity
        tissue[organ] = _ORGAN
    spine = centre + np.array([0.55 * inner_radii[0], 0.0])
    vertebra_radii = np.array([0.065, 0.07]) * size
    for side in (-1, 1):
        psoas = spine + np.array([-0.08 * size, side * 0.13 * size])
        tissue[ellipsoid(shape, psoas, np.array([0.045, 0.06]) * size * rng.uniform(0.8, 1.2))] = _MUSCLE
        paraspinal = spine + np.array([0.11 * size, side * 0.075 * size])
        tissue[ellipsoid(shape, paraspinal, np.array([0.055, 0.06]) * size * rng.uniform(0.85, 1.15)) & body] = _MUSCLE
    tissue[ellipsoid(shape, spine, vertebra_radii)] = _BONE
    if rng.random() < 0.7:  # the CT table: a curved band behind the patient's back
        columns = np.arange(size) - centre[1]
        top = centre[0] + body_radii[0] + rng.uniform(0.01, 0.04) * size - 0.0015 * columns**2 / size * 4
        rows = np.arange(size)[:, None]
        tissue[(rows >= top) & (rows < top + max(2, size // 64)) & (tissue == 0)] = _TABLE
    return rotate_labels(tissue, rng.uniform(-10, 10))


def sarcopenia_case(seed: int, size: int = 256, noise_hu: float = 10.0) -> PhantomCase:
    """A single L3 slice of ``size``² pixels with its muscle/fat label map and body composition.

    Truth: areas in cm² (pixel count × pixel area), muscle mean HU over the stored pixels, and
    the indices that use the case's height and weight (SMI cm²/m², SMA/BMI, SMA/weight).
    """
    rng = np.random.default_rng(seed)
    tissue = _tissue_map(rng, size)
    muscle_hu = rng.uniform(20.0, 55.0)
    hu = paint(tissue, {0: -1000.0, _MUSCLE: muscle_hu, _SAT: rng.uniform(-115, -90),
                        _VAT: rng.uniform(-110, -85), _BONE: rng.uniform(250, 450), _ORGAN: rng.uniform(20, 45),
                        _TABLE: rng.uniform(100, 400)})
    hu = np.round(hu + rng.normal(0.0, noise_hu, hu.shape) * (tissue > 0)).astype(np.int16)
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
                           extra={"KVP": "120", "BodyPartExamined": "ABDOMEN"})
    return PhantomCase(RecipeName.SARCOPENIA, case_id, seed, study, (PhantomSeries("ct_l3", image, spec),),
                       labels, truth, {"sex": sex, "height_m": height_m, "weight_kg": weight_kg})

