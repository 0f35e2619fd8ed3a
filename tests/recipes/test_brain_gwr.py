"""The brain-gwr recipe end to end on head CT phantoms: train, run from DICOM, decide, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from radiomark.phantoms import generate_case, write_case
from radiomark.recipes import load_recipe
from tests.helpers import shared_data, tiny_volume_run

runner = CliRunner()


@pytest.fixture(scope="module")
def brain_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("brain")
    return tiny_volume_run(folder, "brain-gwr", cases=5, epochs=2)


def test_run_from_dicom_writes_outputs_and_a_decision_per_table(tmp_path, brain_model):
    study = write_case(generate_case("brain-gwr", 100), tmp_path / "studies", "dicom")
    result = runner.invoke(app, ["run", "brain-gwr", str(study), "--model", str(brain_model), "--out",
                                 str(tmp_path / "out"), "--table", "torbey2000", "--dicom-seg"])
    assert result.exit_code == 0, result.output
    case = tmp_path / "out" / "brain-gwr-0100"
    for name in ("labels.nii.gz", "measurements.json", "overlay.png", "report.html", "seg.dcm"):
        assert (case / name).is_file(), name
    document = json.loads((case / "measurements.json").read_text())
    (finding,) = document["findings"]
    assert finding["name"] == "poor_outcome" and finding["table"] == "torbey2000"
    assert "Torbey" in (case / "report.html").read_text()


def test_measure_with_the_true_mask_decides_by_the_cutoff(tmp_path):
    case = generate_case("brain-gwr", 7)
    study = write_case(case, tmp_path / "studies", "nifti")
    result = api.measure("brain-gwr", study / "ct_head.nii.gz", study / "labels.nii.gz", tmp_path / "out",
                         table="choi2008")
    gwr = result.measurements["gwr_bg"].value
    (finding,) = result.findings
    assert finding.present is (gwr < 1.22) and "1.22" in finding.reason
    recipe = load_recipe("brain-gwr")
    assert [rule.below for rule in recipe.cutoff_tables["scheel2013"].rules] == [1.16]
    assert [rule.below for rule in recipe.cutoff_tables["torbey2000"].rules] == [1.18]


def test_evaluate_reports_dice_and_gwr_agreement(tmp_path, brain_model):
    for seed in (200, 201, 202):
        write_case(generate_case("brain-gwr", seed), tmp_path / "held-out", "nifti")
    summary = api.evaluate("brain-gwr", tmp_path / "held-out", tmp_path / "eval", model=brain_model)
    assert summary["cases"] == 3 and set(summary["dice"]) == set(load_recipe("brain-gwr").labels.values())
    gwr = summary["agreement"]["gwr_bg"]
    assert gwr["n"] + gwr["missing"] == 3


@pytest.mark.data
@pytest.mark.slow
def test_bundled_model_on_a_semi_synthetic_case_from_dicom(tmp_path):
    from radiomark.io.nifti import read_nifti
    from radiomark.metrics import overlap_scores

    written = api.make_phantoms("brain-gwr", tmp_path / "cases", cases=1, first_seed=5000,
                                template=shared_data("ct-head-template"))
    (result,) = api.run("brain-gwr", written[0], tmp_path / "out").results
    truth = json.loads((written[0] / "truth.json").read_text())["truth"]
    labels = read_nifti(tmp_path / "out" / "ctgwr-5000" / "labels.nii.gz", labels=load_recipe("brain-gwr").labels)
    reference = read_nifti(written[0] / "labels.nii.gz", labels=labels.labels)
    scores = overlap_scores(labels, reference)
    assert all(scores[name]["dice"] > 0.6 for name in ("caudate_right", "caudate_left", "putamen_right",
                                                       "putamen_left", "corpus_callosum")), scores
    assert result.measurements["gwr_bg"].value == pytest.approx(truth["gwr_bg"], abs=0.05)
