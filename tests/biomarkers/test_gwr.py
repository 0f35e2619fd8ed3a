"""Gray/white-matter ratios: exact on noise-free phantoms, erosion and HU range by hand."""

from __future__ import annotations

import numpy as np
import pytest

from radiomark.biomarkers.gwr import measure_gwr, roi_values
from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap
from radiomark.recipes import load_recipe, measure_parameters
from radiomark.recipes.brain_gwr.phantom import LABELS
from radiomark.recipes.brain_gwr.phantom import generate as brain_gwr_case

SPEC = measure_parameters(load_recipe("brain-gwr"))


@pytest.mark.parametrize("seed", [0, 4, 9])
def test_noise_free_phantoms_give_the_designed_ratios_exactly(seed):
    case = brain_gwr_case(seed, noise_hu=0.0)  # every structure one HU value
    measured = measure_gwr(case.image, case.labels, SPEC)
    for side in ("right", "left"):
        assert measured[f"gwr_bg_{side}"].value == pytest.approx(case.truth[f"gwr_bg_{side}"], abs=1e-3)
        assert measured[f"gwr_bg_{side}"].value == pytest.approx(case.truth[f"gwr_bg_{side}"], rel=1e-12)
    means = {name: case.truth[f"mean_hu_{name}"] for name in LABELS.values()}
    assert measured["mean_hu_corpus_callosum"].value == means["corpus_callosum"]
    assert measured["mean_hu_corpus_callosum"].unit == "[hnsf'U]"
    assert measured["cn_pic_right"].value == pytest.approx(means["caudate_right"] / means["internal_capsule_right"])
    # pooled sides lie between the two sides' ratios
    low, high = sorted(measured[f"gwr_bg_{side}"].value for side in ("right", "left"))
    assert low <= measured["gwr_bg"].value <= high


def _strip(values_by_column, labels_by_column, rows=5):
    """A 1-slice volume whose columns hold given values and labels, ``rows`` rows tall."""
    array = np.tile(np.asarray(values_by_column, float), (1, rows, 1))
    labels = np.tile(np.asarray(labels_by_column), (1, rows, 1))
    image = Image(array, (3.0, 1.0, 1.0))
    return image, LabelMap.like(image, labels.astype(np.uint8), LABELS)


def test_roi_is_eroded_in_plane_and_range_limited():
    # caudate_right (label 1) covers columns 0-4 with values 10, 20, 30, 40, 200 and 5 rows:
    # one voxel of erosion keeps rows 1-3, columns 1-3 (20, 30, 40); nothing of 200 (edge, and > 80 HU).
    image, labels = _strip([10, 20, 30, 40, 200, 0], [1, 1, 1, 1, 1, 0])
    kept = roi_values(image, labels, ("caudate_right",), SPEC)
    assert sorted(set(kept.tolist())) == [20.0, 30.0, 40.0] and kept.size == 9
    no_erosion = SPEC.model_copy(update={"erosion_voxels": 0})
    assert sorted(set(roi_values(image, labels, ("caudate_right",), no_erosion).tolist())) == [10, 20, 30, 40]
    wide = SPEC.model_copy(update={"erosion_voxels": 0, "hu_range": (0.0, 300.0)})
    assert roi_values(image, labels, ("caudate_right",), wide).max() == 200


def test_hand_computed_ratios_and_missing_structures():
    # Each structure a 3-column block with one value; no erosion, so means are those values.
    values = [40] * 3 + [38] * 3 + [36] * 3 + [34] * 3 + [28] * 3 + [26] * 3 + [30] * 3
    labels = [v for v in range(1, 8) for _ in range(3)]
    image, label_map = _strip(values, labels)
    spec = SPEC.model_copy(update={"erosion_voxels": 0})
    measured = measure_gwr(image, label_map, spec)
    assert measured["gwr_bg_right"].value == pytest.approx((40 + 36) / (28 + 30))
    assert measured["gwr_bg_left"].value == pytest.approx((38 + 34) / (26 + 30))
    assert measured["gwr_bg"].value == pytest.approx((39 + 35) / (27 + 30))  # pooled, equal voxel counts
    assert measured["pu_pic_left"].value == pytest.approx(34 / 26)
    without_callosum = LabelMap.like(image, np.where(np.asarray(label_map.array) == 7, 0, label_map.array), LABELS)
    partial = measure_gwr(image, without_callosum, spec)
    assert "gwr_bg" not in partial and "gwr_bg_right" not in partial and "cn_pic_right" in partial
    zero_white = np.where(np.isin(np.asarray(label_map.array), (5, 6, 7)), 0, np.asarray(image.array))
    no_white = measure_gwr(Image(zero_white, image.spacing_mm), label_map, spec)  # 0 HU: not white matter
    assert not any(name.startswith(("gwr_bg", "cn_pic", "pu_pic")) for name in no_white)
    shifted = Image(np.asarray(image.array), image.spacing_mm, origin_mm=(1.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="not on the image grid"):
        measure_gwr(shifted, label_map, spec)
