"""The semi-synthetic head CT cohort built from the real CQ500 template (needs ../shared/data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radiomark.io.nifti import read_nifti
from tests.helpers import shared_data


@pytest.mark.data
@pytest.mark.slow
def test_cohort_from_the_real_template_has_sided_landmarks_and_edema_truth(tmp_path):
    from radiomark.recipes.brain_gwr.dataset import LABELS, write_cohort

    source = shared_data("ct-head-template")
    cases = write_cohort(source, tmp_path / "cohort", range(0, 4))
    atlas = json.loads((tmp_path / "cohort" / "atlas" / "atlas.json").read_text())
    # The registration carried AAL's caudate / putamen onto the template's own labels.
    assert min(atlas["check_dice"].values()) > 0.5, atlas["check_dice"]
    assert atlas["registration"]["stages"] == ["rigid", "affine"]
    assert (tmp_path / "cohort" / "atlas" / "registration_qc.png").is_file()
    outcomes = {}
    for case in cases:
        labels = read_nifti(case / "labels.nii.gz")
        image = read_nifti(case / "ct_head.nii.gz")
        assert labels.geometry_equal(image) and image.array.dtype == np.int16
        x = {name: labels.index_to_point(np.argwhere(np.asarray(labels.array) == value).mean(axis=0))[0]
             for value, name in LABELS.items()}
        for structure in ("caudate", "putamen", "internal_capsule"):
            assert x[f"{structure}_right"] < x["corpus_callosum"] < x[f"{structure}_left"]  # LPS: right is -x
        truth = json.loads((case / "truth.json").read_text())
        assert truth["data_kind"].startswith("semi-synthetic")
        outcomes[truth["truth"]["outcome"]] = truth["truth"]["gwr_bg"]
    assert set(outcomes) == {"good", "poor"} and outcomes["poor"] < outcomes["good"]
