"""Neonatal AP chest radiograph: two lungs, heart, mediastinum and spine, ribs, an endotracheal
tube line. RDS cases get a dense, granular (ground-glass) lung texture.

Values are 12-bit detector grey levels, brighter = denser (MONOCHROME2 after reading). The
patient's right lung is on the image's left (small column index).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from radiomark.image import Image, LabelMap
from radiomark.io.dicom_write import DicomSeriesSpec
from radiomark.phantoms.case import PhantomCase, PhantomSeries, make_study
from radiomark.phantoms.shapes import ellipsoid, paint, rotate_labels

LABELS = {1: "right_lung", 2: "left_lung"}
_BODY, _HEART, _SPINE, _TUBE = 3, 4, 5, 6


def _tissue_map(rng: np.random.Generator, size: int) -> np.ndarray:
    shape = (size, size)
    tissue = np.zeros(shape, dtype=np.int64)
    middle = size / 2 + rng.uniform(-0.03, 0.03) * size
    tissue[ellipsoid(shape, (0.55 * size, middle), (0.55 * size, 0.40 * size))] = _BODY
    lung_rows, lung_height = 0.45 * size, rng.uniform(0.24, 0.30) * size
    for label, sign in ((1, -1), (2, 1)):
        centre = (lung_rows, middle + sign * rng.uniform(0.17, 0.21) * size)
        radii = (lung_height, rng.uniform(0.11, 0.14) * size)
        tissue[ellipsoid(shape, centre, radii, angle_deg=sign * rng.uniform(3, 10))] = label
    heart_radii = np.array([0.13, 0.14]) * size * rng.uniform(0.9, 1.15)
    heart = ellipsoid(shape, (0.58 * size, middle + 0.05 * size), heart_radii)
    tissue[heart & (tissue != 0)] = _HEART
    spine = np.zeros(shape, dtype=bool)
    spine[:, int(middle - 0.035 * size):int(middle + 0.035 * size)] = True
    tissue[spine & (tissue > 0)] = _SPINE
    tube_column = int(middle + rng.uniform(-0.01, 0.01) * size)
    tissue[: int(0.35 * size), tube_column:tube_column + max(1, size // 128)] = _TUBE
    return rotate_labels(tissue, rng.uniform(-8, 8))


def generate(seed: int, size: int = 256) -> PhantomCase:
    """A chest X-ray phantom; truth holds lung areas (cm²) and the RDS label (1 = RDS)."""
    rng = np.random.default_rng(seed)
    tissue = _tissue_map(rng, size)
    rds = int(rng.random() < 0.5)
    lungs = np.isin(tissue, (1, 2))
    lung_level = rng.uniform(1400, 1800) if rds else rng.uniform(700, 1000)
    grey = paint(tissue, {0: 150.0, 1: lung_level, 2: lung_level, _BODY: 2000.0, _HEART: 2600.0, _SPINE: 2900.0,
                          _TUBE: 3400.0})
    texture = gaussian_filter(rng.normal(0, 1, tissue.shape), 1.0 if rds else 3.0)
    grey = grey + lungs * texture * (900.0 if rds else 250.0)
    rib_rows = np.arange(0.22, 0.75, 0.075) * size + rng.uniform(-3, 3)
    rows = np.arange(size)[:, None] + 0.0004 * (np.arange(size)[None, :] - size / 2) ** 2
    for row in rib_rows:  # ribs: bright arcs over the lungs
        grey += 500.0 * ((np.abs(rows - row) < size / 100) & lungs)
    grey = gaussian_filter(grey, 0.8) + rng.normal(0, 30, tissue.shape)
    values = np.clip(np.round(grey), 0, 4095).astype(np.uint16)
    spacing = round(float(rng.uniform(0.42, 0.55)) * 256 / size, 4)
    image = Image(array=values, spacing_mm=(spacing, spacing), metadata={"modality": "DX"})
    labels = LabelMap.like(image, np.where(lungs, tissue, 0), LABELS)
    pixel_cm2 = spacing * spacing / 100.0
    right, left = (float(np.count_nonzero(tissue == v) * pixel_cm2) for v in (1, 2))
    truth = {"right_lung_area_cm2": right, "left_lung_area_cm2": left, "lung_area_cm2": right + left, "rds": rds}
    case_id = f"neonatal-rds-{seed:04d}"
    study = make_study(case_id, patient_sex="F" if rng.random() < 0.5 else "M", patient_age_years=0)
    spec = DicomSeriesSpec("DX", "Chest AP neonatal", 1, monochrome1=bool(seed % 2),
                           extra={"BodyPartExamined": "CHEST", "ViewPosition": "AP"})
    return PhantomCase("neonatal-rds", case_id, seed, study, (PhantomSeries("cxr", image, spec),),
                       labels, truth, {"rds": rds})
