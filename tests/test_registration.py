"""MR → CT registration recovers a known rigid motion; labels are carried across (Dice reported)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from radiomark.cli import app
from radiomark.errors import InputError
from radiomark.io.nifti import read_nifti, write_nifti
from radiomark.metrics import overlap_scores
from radiomark.recipes.brain_gwr.phantom import mr_ct_pair
from radiomark.registration import register, transfer_labels, transform_difference

runner = CliRunner()


@pytest.mark.parametrize("affine", [False, True])
def test_a_known_rigid_motion_is_recovered_within_1_mm_and_1_degree(affine):
    case, mr, mr_labels, expected = mr_ct_pair(3, rotation_deg=(4.0, -5.0, 6.0), translation_mm=(6.0, -4.0, 5.0))
    brain = np.argwhere(np.asarray(case.labels.array) > 0)[::7]
    points = np.array([case.image.index_to_point(index) for index in brain])
    identity = sitk.Euler3DTransform()
    before, _ = transform_difference(identity, expected, points)
    assert before > 5.0  # the motion is real
    registration = register(case.image, mr, affine=affine)
    displacement, angle = transform_difference(registration.transform, expected, points)
    assert displacement < 1.0 and angle < 1.0
    assert registration.stages == (("rigid", "affine") if affine else ("rigid",))
    moved = transfer_labels(mr_labels, case.image, registration)
    dice = {name: pair["dice"] for name, pair in overlap_scores(moved, case.labels).items()}
    assert min(dice.values()) > 0.9, dice


def test_transfer_labels_command_writes_labels_transform_and_qc(tmp_path):
    case, mr, mr_labels, _ = mr_ct_pair(5)
    for name, image in (("ct", case.image), ("mr", mr), ("mr_labels", mr_labels)):
        write_nifti(image, tmp_path / f"{name}.nii.gz")
    result = runner.invoke(app, ["transfer-labels", "--moving", str(tmp_path / "mr.nii.gz"), "--labels",
                                 str(tmp_path / "mr_labels.nii.gz"), "--fixed", str(tmp_path / "ct.nii.gz"),
                                 "--out", str(tmp_path / "ct_labels.nii.gz"), "--report", str(tmp_path / "qc.png")])
    assert result.exit_code == 0, result.output
    assert "Mattes mutual information" in result.output
    labels = read_nifti(tmp_path / "ct_labels.nii.gz")
    assert labels.geometry_equal(case.image) and set(np.unique(labels.array)) == set(range(8))
    transform = sitk.ReadTransform(str(tmp_path / "ct_labels.tfm"))
    assert transform.GetNumberOfParameters() == 6
    assert (tmp_path / "qc.png").stat().st_size > 10_000
    assert json.dumps(result.output)  # printed, not a traceback


def test_labels_must_lie_on_the_moving_grid_and_outputs_never_replace_inputs(tmp_path):
    from radiomark import api

    case, mr, _, _ = mr_ct_pair(6)
    write_nifti(case.image, tmp_path / "ct.nii.gz")
    write_nifti(mr, tmp_path / "mr.nii.gz")
    write_nifti(case.labels, tmp_path / "ct_grid_labels.nii.gz")
    with pytest.raises(InputError, match="is not the moving image's grid"):
        api.transfer_labels(tmp_path / "mr.nii.gz", tmp_path / "ct_grid_labels.nii.gz", tmp_path / "ct.nii.gz",
                            tmp_path / "out.nii.gz")
    with pytest.raises(InputError, match="an output would replace an input"):
        api.transfer_labels(tmp_path / "mr.nii.gz", tmp_path / "ct_grid_labels.nii.gz", tmp_path / "ct.nii.gz",
                            tmp_path / "ct.nii.gz")
    assert not (tmp_path / "out.nii.gz").exists()
