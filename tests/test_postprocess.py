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


def test_sides_follow_position_and_only_the_largest_cluster_stays():
    from radiomark.postprocess import sides_from_midline

    names = {1: "sn_right", 2: "sn_left", 3: "crus_right", 4: "crus_left"}
    array = np.zeros((3, 20, 40), dtype=np.uint8)
    array[1, 8:12, 10:14] = 2  # patient's right (small x) but labelled left
    array[1, 8:12, 16:19] = 1  # right, near the midline
    array[1, 8:12, 22:26] = 2  # left
    array[1, 4:7, 12:28] = 3   # crus across both sides, all labelled right
    array[1, 17:19, 36:39] = 4  # a far-away false positive
    image = Image(np.zeros(array.shape, np.float32), (2.0, 1.0, 1.0))
    labels = LabelMap.like(image, array, names)
    fixed = np.asarray(sides_from_midline(labels, (("sn_right", "sn_left"), ("crus_right", "crus_left")), 3.0).array)
    # The cluster's centre lies at column 18.48 (x = column index here): smaller is the patient's right.
    assert set(np.unique(fixed[1, 8:12, 10:14])) == {1} and set(np.unique(fixed[1, 8:12, 16:19])) == {1}
    assert set(np.unique(fixed[1, 8:12, 22:26])) == {2}
    assert set(np.unique(fixed[1, 4:7, 12:19])) == {3} and set(np.unique(fixed[1, 4:7, 19:28])) == {4}
    assert not fixed[1, 17:19, 36:39].any()  # not in the largest cluster
    # A mirrored image (columns running right-to-left in LPS) swaps which columns are "right".
    mirrored = Image(np.zeros(array.shape, np.float32), (2.0, 1.0, 1.0),
                     direction=np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    swapped = np.asarray(sides_from_midline(LabelMap.like(mirrored, array, names),
                                            (("sn_right", "sn_left"), ("crus_right", "crus_left")), 3.0).array)
    assert set(np.unique(swapped[1, 8:12, 10:14])) == {2} and set(np.unique(swapped[1, 8:12, 22:26])) == {1}
