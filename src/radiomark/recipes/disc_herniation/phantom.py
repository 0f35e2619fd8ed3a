"""Lumbar spine MRI study: a T2 axial series with one slice per disc level (L1-2 … L5-S1), plus a
T1 axial and a T2 sagittal series so that series selection by tags has something to reject.

Each T2 axial slice shows the disc (dark annulus, bright nucleus), the thecal sac (bright CSF)
with the cauda equina nerve roots (dark dots), posterior elements, paraspinal muscles and fat.
A herniated level has a posterior disc protrusion that indents the sac; half the healthy levels have
a mild bulge, so that the smallest herniations are hard to tell from bulges. At lumbar levels the
"spinal cord width" of the seed study is really the thecal sac: its measures are the truth here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.io.dicom_write import DicomSeriesSpec
from radiomark.io.tables import write_csv
from radiomark.phantoms.case import PhantomCase, PhantomSeries, make_study
from radiomark.phantoms.shapes import ellipsoid, paint

LABELS = {1: "intervertebral_disc", 2: "thecal_sac", 3: "cauda_equina"}
DISC_LEVELS = ("L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
_FAT, _MUSCLE, _BONE, _NUCLEUS = 4, 5, 6, 7
_SIZE = 128
_SPACING_MM = 0.7
_LEVEL_DISTANCE_MM = 35.0


def _level_map(rng: np.random.Generator, herniated: bool) -> np.ndarray:
    shape = (_SIZE, _SIZE)
    tissue = np.zeros(shape, dtype=np.int64)
    middle = _SIZE / 2 + rng.uniform(-2, 2)
    tissue[ellipsoid(shape, (64, middle), (60, 62))] = _FAT
    disc_centre = (42 + rng.uniform(-2, 2), middle)
    disc_radii = np.array([15.0, 24.0]) * rng.uniform(0.9, 1.1)
    for sign in (-1, 1):
        tissue[ellipsoid(shape, (90, middle + sign * 16), (14, 11))] = _MUSCLE
        tissue[ellipsoid(shape, (48, middle + sign * 32), (10, 8))] = _MUSCLE
    sac_centre = (disc_centre[0] + disc_radii[0] + 9, middle)
    tissue[ellipsoid(shape, sac_centre, (12, 16))] = _BONE  # posterior elements around the canal
    tissue[ellipsoid(shape, sac_centre, (7.0, 10.0) * rng.uniform(0.85, 1.15, 2))] = 2
    for _ in range(int(rng.integers(4, 8))):
        root = np.asarray(sac_centre) + rng.uniform([-1, -6], [4, 6])
        tissue[ellipsoid(shape, root, (0.9, 0.9)) & (tissue == 2)] = 3
    tissue[ellipsoid(shape, disc_centre, disc_radii)] = 1
    tissue[ellipsoid(shape, disc_centre, disc_radii * 0.6)] = _NUCLEUS
    # A herniation protrudes 2.5-7 pixels into the canal; half the healthy discs bulge mildly
    # (1-3 pixels), so small herniations and large bulges look alike, as they do in practice.
    if herniated or rng.random() < 0.5:
        side = rng.uniform(-4, 4)
        depth = rng.uniform(2.5, 7.0) if herniated else rng.uniform(1.0, 3.0)
        tissue[ellipsoid(shape, (disc_centre[0] + disc_radii[0] + 1, middle + side),
                         (depth, rng.uniform(3.0, 6.0)))] = 1
    return tissue


def _extent_mm(mask: np.ndarray, axis: int) -> float:
    covered = np.flatnonzero(mask.any(axis=1 - axis))
    return float((covered.max() - covered.min() + 1) * _SPACING_MM) if covered.size else 0.0


def generate(seed: int) -> PhantomCase:
    """A lumbar study phantom; truth holds per-level herniation and thecal sac measures (mm, mm²)."""
    rng = np.random.default_rng(seed)
    herniated = {level: bool(rng.random() < 0.4) for level in DISC_LEVELS}
    # The array's slice 0 is the most inferior level (L5-S1): slices run along +z (superior).
    levels_inferior_first = DISC_LEVELS[::-1]
    tissue = np.stack([_level_map(rng, herniated[level]) for level in levels_inferior_first])
    t2 = {0: 0.0, 1: 180.0, 2: 1100.0, 3: 250.0, _FAT: 650.0, _MUSCLE: 260.0, _BONE: 300.0, _NUCLEUS: 900.0}
    t1 = {0: 0.0, 1: 400.0, 2: 150.0, 3: 350.0, _FAT: 1100.0, _MUSCLE: 450.0, _BONE: 600.0, _NUCLEUS: 420.0}
    spacing = (_LEVEL_DISTANCE_MM, _SPACING_MM, _SPACING_MM)
    origin = (-_SIZE * _SPACING_MM / 2, -_SIZE * _SPACING_MM / 2 + 20.0, -60.0 - 4 * _LEVEL_DISTANCE_MM)

    def mri(values: dict[int, float]) -> np.ndarray:
        signal = paint(tissue, values) + rng.normal(0, 25, tissue.shape) * (tissue > 0)
        return np.clip(np.round(signal), 0, 4095).astype(np.uint16)

    t2_axial = Image(array=mri(t2), spacing_mm=spacing, origin_mm=origin, metadata={"modality": "MR"})
    t1_axial = Image(array=mri(t1), spacing_mm=spacing, origin_mm=origin, metadata={"modality": "MR"})
    sagittal_direction = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    sagittal_values = np.clip(np.round(rng.normal(400, 40, (3, 96, 96))), 0, 4095).astype(np.uint16)
    t2_sagittal = Image(array=sagittal_values, spacing_mm=(4.0, 2.0, 2.0), origin_mm=(-4.0, -90.0, 90.0),
                        direction=sagittal_direction, metadata={"modality": "MR"})
    disc_labels = np.where(tissue == _NUCLEUS, 1, tissue)  # the nucleus pulposus is part of the disc
    labels = LabelMap.like(t2_axial, np.where(disc_labels <= 3, disc_labels, 0), LABELS)
    pixel_mm2 = _SPACING_MM**2
    per_level = {}
    for index, level in enumerate(levels_inferior_first):
        sac = np.isin(tissue[index], (2, 3))
        per_level[level] = {"slice_index": index, "herniation": herniated[level],
                            "thecal_sac_width_mm": _extent_mm(sac, 1), "thecal_sac_ap_mm": _extent_mm(sac, 0),
                            "thecal_sac_area_mm2": float(sac.sum() * pixel_mm2)}
    case_id = f"disc-herniation-{seed:04d}"
    sex = "F" if rng.random() < 0.5 else "M"
    age = int(rng.integers(20, 80))
    study = make_study(case_id, patient_sex=sex, patient_age_years=age)
    t2_tags = {"EchoTime": "100", "RepetitionTime": "4000", "ScanningSequence": "SE", "SequenceVariant": "SK"}
    t1_tags = {"EchoTime": "12", "RepetitionTime": "600", "ScanningSequence": "SE", "SequenceVariant": "SK"}
    at_levels = tuple({"ImageComments": level} for level in levels_inferior_first)  # as a planning console writes
    series = (PhantomSeries("t2_axial", t2_axial, DicomSeriesSpec("MR", "T2_TSE_TRA", 4, extra=t2_tags,
                                                                  per_slice=at_levels)),
              PhantomSeries("t1_axial", t1_axial, DicomSeriesSpec("MR", "T1_TSE_TRA", 5, extra=t1_tags,
                                                                  per_slice=at_levels)),
              PhantomSeries("t2_sagittal", t2_sagittal, DicomSeriesSpec("MR", "T2_TSE_SAG", 2, extra=t2_tags)))
    return PhantomCase("disc-herniation", case_id, seed, study, series, labels,
                       {"levels": per_level}, {"age_years": age, "sex": sex})


def finish(folder: str | os.PathLike[str]) -> Path:
    """``folder/labels.csv`` for ``radiomark train disc-herniation``: one row per (patient, level)
    of every disc-herniation phantom under ``folder`` (from its ``truth.json``), with the truth's
    herniation flag and thecal sac width."""
    root = Path(folder)
    rows = []
    for truth_file in sorted(root.glob("*/truth.json")):
        document = json.loads(truth_file.read_text())
        if document.get("recipe") != "disc-herniation":
            continue
        for level, truth in document["truth"]["levels"].items():
            rows.append({"patient": f"PHANTOM-{document['case_id']}", "disc_level": level,
                         "herniation": int(truth["herniation"]),
                         "thecal_sac_width_mm": round(truth["thecal_sac_width_mm"], 3)})
    return write_csv(rows, root / "labels.csv")
