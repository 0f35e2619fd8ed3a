"""Neuromelanin and QSM measures: exact on phantoms and on hand-made distributions."""

from __future__ import annotations

import numpy as np
import pytest

from radiomark.biomarkers.nigra import measure_nigra
from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap
from radiomark.phantoms import generate_case
from radiomark.recipes import load_recipe, measure_parameters

SPEC = measure_parameters(load_recipe("nigra"))
#: Phantom truth key -> measurement name.
TRUTH = {"sn_volume_mm3": "substantia_nigra_volume", "sn_volume_right_mm3": "substantia_nigra_right_volume",
         "sn_volume_left_mm3": "substantia_nigra_left_volume", "nm_volume_ratio": "neuromelanin_volume_ratio",
         "nm_contrast_ratio": "neuromelanin_contrast_ratio", "nm_cnr": "neuromelanin_cnr",
         "nm_sn_volume_mm3": "neuromelanin_sn_volume", "qsm_mean_above_0015_ppm": "qsm_mean_above_threshold",
         "qsm_mean_sn_ppm": "qsm_mean"}


@pytest.mark.parametrize("seed", [0, 7, 31])
def test_measures_equal_the_phantom_truth(seed):
    case = generate_case("nigra", seed)
    qsm = next(series.image for series in case.series if series.name == "qsm")
    measured = measure_nigra(case.image, case.labels, qsm, SPEC)
    for key, name in TRUTH.items():
        # rel 1e-6: the phantom averages its float32 QSM map in float32
        assert measured[name].value == pytest.approx(case.truth[key], rel=1e-6, abs=1e-12), name
    assert measured["substantia_nigra_volume"].unit == "mm3" and measured["qsm_mean"].unit == "[ppm]"


def _synthetic(roi_values, reference_values, spacing=(2.0, 1.0, 0.5)):
    """A 1-row volume: ROI voxels (label 1, right), reference voxels (label 3), the rest 0."""
    values = np.array([*roi_values, *reference_values, 0.0], dtype=float)
    labels = np.array([1] * len(roi_values) + [3] * len(reference_values) + [0])
    image = Image(values.reshape(1, 1, -1), spacing)
    names = {1: "substantia_nigra_right", 2: "substantia_nigra_left", 3: "crus_cerebri_right",
             4: "crus_cerebri_left"}
    return image, LabelMap.like(image, labels.reshape(1, 1, -1), names)


def test_measures_on_a_hand_made_distribution():
    # ROI: 9 voxels of 100 and one of 200 -> mean 110, SD 30: one voxel above mean + 1 SD (140),
    # none above mean + 3 SD (200 is not > 200) -> ratio 0. Reference: 50 and 70 -> mean 60, SD 10.
    roi = [100.0] * 9 + [200.0]
    image, labels = _synthetic(roi, [50.0, 70.0])
    qsm = Image(np.array([0.01] * 5 + [0.03] * 5 + [0.5, 0.5, 0.0]).reshape(1, 1, -1), image.spacing_mm)
    measured = measure_nigra(image, labels, qsm, SPEC)
    assert measured["neuromelanin_volume_ratio"].value == 0.0
    assert measured["neuromelanin_contrast_ratio"].value == pytest.approx((110 - 60) / 60)
    assert measured["neuromelanin_cnr"].value == pytest.approx((110 - 60) / 10)
    # above 60 + 3 * 10 = 90: all ten ROI voxels, 1 mm3 each
    assert measured["neuromelanin_sn_volume"].value == pytest.approx(10.0)
    assert measured["substantia_nigra_volume"].value == pytest.approx(10.0)
    assert measured["substantia_nigra_left_volume"].value == 0.0
    assert measured["qsm_mean"].value == pytest.approx(0.02)
    assert measured["qsm_mean_above_threshold"].value == pytest.approx(0.03)
    # With the ROI spread wider, one voxel passes mean + 3 SD: 1 of 1 above mean + 1 SD.
    wide = measure_nigra(*_synthetic([100.0] * 15 + [300.0], [50.0, 70.0]), None, SPEC)
    assert wide["neuromelanin_volume_ratio"].value == 1.0 and "qsm_mean" not in wide
    reference_statistics = SPEC.model_copy(update={"ratio_statistics": "reference"})
    # mean 60, SD 10 of the reference: above 90 -> 10 voxels, above 70 -> 10 voxels
    assert measure_nigra(image, labels, None, reference_statistics)["neuromelanin_volume_ratio"].value == 1.0


def test_missing_regions_leave_measures_out_and_grids_must_match():
    image, labels = _synthetic([100.0, 120.0], [])
    measured = measure_nigra(image, labels, None, SPEC)
    assert "neuromelanin_contrast_ratio" not in measured and "neuromelanin_cnr" not in measured
    assert measured["substantia_nigra_volume"].value == pytest.approx(2.0)
    empty = measure_nigra(*_synthetic([], [50.0, 70.0]), None, SPEC)
    assert empty["substantia_nigra_volume"].value == 0.0 and "neuromelanin_volume_ratio" not in empty
    shifted = Image(np.asarray(image.array), image.spacing_mm, origin_mm=(5.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="not on the image grid"):
        measure_nigra(shifted, labels, None, SPEC)
