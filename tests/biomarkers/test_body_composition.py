"""Body composition against analytic truth: phantoms with known areas and HU."""

from __future__ import annotations

import numpy as np
import pytest

from radiomark.biomarkers import Measurement, Unit
from radiomark.biomarkers.body_composition import (
    mean_attenuation,
    muscle_area_per_bmi,
    muscle_area_per_weight,
    skeletal_muscle_index,
    tissue_area,
)
from radiomark.errors import GeometryError, InputError
from radiomark.image import Image, LabelMap
from radiomark.phantoms import generate_case

#: The muscle attenuation window of the sarcopenia recipe (Mitsiopoulos 1998), HU.
MUSCLE_WINDOW = (-29.0, 150.0)

LABELS = {1: "skeletal_muscle"}


def _square(spacing_mm: float, side: int, hu: np.ndarray | float) -> tuple[Image, LabelMap]:
    array = np.full((64, 64), -1000, dtype=np.int16)
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[10:10 + side, 20:20 + side] = 1
    array[mask == 1] = np.broadcast_to(hu, (side * side,)) if np.ndim(hu) else hu
    image = Image(array=array, spacing_mm=(spacing_mm, spacing_mm))
    return image, LabelMap.like(image, mask, LABELS)


def test_square_areas_follow_from_the_pixel_spacing():
    image, labels = _square(spacing_mm=1.25, side=40, hu=40)  # 40 pixels × 1.25 mm = 5 cm a side
    area = tissue_area(labels, "skeletal_muscle")
    assert area.value == pytest.approx(25.0) and area.unit is Unit.CM2
    image, labels = _square(spacing_mm=1.0, side=20, hu=40)
    assert tissue_area(labels, "skeletal_muscle").value == pytest.approx(4.0)


def test_mean_attenuation_excludes_pixels_outside_the_muscle_window():
    values = np.array([40.0] * 390 + [-200.0] * 5 + [500.0] * 5)
    image, labels = _square(spacing_mm=1.0, side=20, hu=values)
    assert mean_attenuation(image, labels, "skeletal_muscle", MUSCLE_WINDOW).value == pytest.approx(40.0)
    everything = mean_attenuation(image, labels, "skeletal_muscle", hu_range=None)
    assert everything.value == pytest.approx(values.mean()) and everything.unit is Unit.HOUNSFIELD
    fat_only, labels = _square(spacing_mm=1.0, side=5, hu=-100)
    with pytest.raises(InputError, match=r"no skeletal_muscle pixels to average \(mean of ROI pixels in \[-29, 150\]"):
        mean_attenuation(fat_only, labels, "skeletal_muscle", MUSCLE_WINDOW)


@pytest.mark.parametrize("seed", range(4))
def test_phantom_truth_is_reproduced(seed):
    case = generate_case("sarcopenia", seed)
    sma = tissue_area(case.labels, "skeletal_muscle")
    assert sma.value == pytest.approx(case.truth["sma_cm2"], rel=1e-12)
    assert tissue_area(case.labels, "visceral_fat").value == pytest.approx(case.truth["vat_area_cm2"], rel=1e-12)
    muscle_hu = mean_attenuation(case.image, case.labels, "skeletal_muscle", hu_range=None)
    assert muscle_hu.value == pytest.approx(case.truth["muscle_mean_hu"], rel=1e-12)
    height, weight = case.clinical["height_m"], case.clinical["weight_kg"]
    assert skeletal_muscle_index(sma, height).value == pytest.approx(case.truth["smi_cm2_m2"])
    assert muscle_area_per_bmi(sma, height, weight).value == pytest.approx(case.truth["sma_per_bmi_cm2_m2_per_kg"])
    assert muscle_area_per_weight(sma, weight).value == pytest.approx(case.truth["sma_per_weight_cm2_kg"])


def test_refusals():
    image, labels = _square(spacing_mm=1.0, side=4, hu=40)
    uncalibrated = LabelMap(array=labels.array, spacing_mm=None, labels=LABELS, metadata={"source": "a.png"})
    with pytest.raises(GeometryError, match="a.png: pixel spacing is unknown"):
        tissue_area(uncalibrated, "skeletal_muscle")
    with pytest.raises(GeometryError, match="an area needs a single slice"):
        tissue_area(labels.as_volume(), "skeletal_muscle")
    shifted = LabelMap(array=labels.array, spacing_mm=(1.0, 1.0), origin_mm=(5, 0, 0), labels=LABELS)
    with pytest.raises(GeometryError, match="not on the image grid"):
        mean_attenuation(image, shifted, "skeletal_muscle", MUSCLE_WINDOW)
    sma = tissue_area(labels, "skeletal_muscle")
    with pytest.raises(InputError, match="height must be a positive number of metres, got 0"):
        skeletal_muscle_index(sma, 0)
    with pytest.raises(InputError, match="is not a finite number"):
        Measurement("x", float("nan"), Unit.CM2, "test")
