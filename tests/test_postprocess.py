import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.postprocess import gate_by_intensity, remove_small_components

NAMES = {1: "skeletal_muscle", 2: "visceral_fat"}


def test_gating_drops_pixels_outside_each_structures_range():
    hu = np.array([[40, -100, 200], [-100, -20, 40]], dtype=np.int16)
    image = Image(array=hu, spacing_mm=(1.0, 1.0))
    labels = LabelMap.like(image, np.array([[1, 1, 1], [2, 2, 2]]), NAMES)
    gated = gate_by_intensity(labels, image, {"skeletal_muscle": (-29, 150), "visceral_fat": (-150, -50)})
    np.testing.assert_array_equal(gated.array, [[1, 0, 0], [2, 0, 0]])


def test_small_components_are_removed_by_physical_area():
    array = np.zeros((20, 20), dtype=np.uint8)
    array[2:7, 2:7] = 1      # 25 pixels = 6.25 mm² at 0.5 mm
    array[10:12, 10:12] = 1  # 4 pixels = 1 mm²
    array[15:20, 15:20] = 2
    labels = LabelMap(array=array, spacing_mm=(0.5, 0.5), labels=NAMES)
    cleaned = remove_small_components(labels, min_size=2.0)
    assert cleaned.array[10:12, 10:12].sum() == 0
    assert (cleaned.array == 1).sum() == 25 and (cleaned.array == 2).sum() == 25
    assert remove_small_components(labels, 0) is labels
