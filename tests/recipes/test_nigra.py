"""The nigra recipe end to end on multi-echo phantoms: train, run from DICOM, measure, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from radiomark.errors import InputError
from radiomark.inference.predictor import Segmenter
from radiomark.phantoms import generate_case, write_case
from tests.helpers import shared_data, tiny_volume_run

runner = CliRunner()


@pytest.fixture(scope="module")
def nigra_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("nigra")
    return tiny_volume_run(folder, "nigra", cases=6, epochs=3)


def test_training_plans_the_network_records_it_and_lowers_the_loss(nigra_model):
    plan = json.loads((nigra_model / "plan.json").read_text())
    assert plan["patch_size"] == [16, 32, 32] and plan["network"] == "dynunet" and plan["levels"] >= 2
    history = json.loads((nigra_model / "fold_0" / "history.json").read_text())
    assert len(history) == 3 and history[-1]["train_loss"] < history[0]["train_loss"]
    metrics = json.loads((nigra_model / "metrics.json").read_text())
    assert set(metrics["mean_validation_dice"]) == {"substantia_nigra_right", "substantia_nigra_left",
                                                    "crus_cerebri_right", "crus_cerebri_left"}
    assert "whole volumes" in metrics["note"]


def test_run_from_multi_echo_dicom_writes_every_output(tmp_path, nigra_model):
    study = write_case(generate_case("nigra", 100), tmp_path / "studies", "dicom")
    result = runner.invoke(app, ["run", "nigra", str(study), "--model", str(nigra_model), "--out",
                                 str(tmp_path / "out"), "--dicom-sr", "--pdf"])
    assert result.exit_code == 0, result.output
    case = tmp_path / "out" / "nigra-0100"
    for name in ("labels.nii.gz", "measurements.json", "measurements.csv", "overlay.png", "report.html", "seg.dcm",
                 "sr.dcm", "report.pdf"):
        assert (case / name).is_file(), name
    document = json.loads((case / "measurements.json").read_text())
    names = {m["name"] for m in document["measurements"]}
    assert {"substantia_nigra_volume", "substantia_nigra_right_volume"} <= names
    import highdicom as hd

    seg = hd.seg.segread(case / "seg.dcm")
    assert seg.NumberOfFrames == 20 * 4 and len(seg.SegmentSequence) == 4  # 20 slices, 4 segments
    from radiomark.io.nifti import read_nifti

    labels = read_nifti(case / "labels.nii.gz")
    assert labels.shape == (20, 64, 64)  # on the source grid of echo 1


def test_measure_on_the_true_mask_gives_the_phantom_truth(tmp_path):
    case = generate_case("nigra", 11)
    study = write_case(case, tmp_path / "studies", "dicom")
    result = api.measure("nigra", study, study / "labels.nii.gz", tmp_path / "out")
    assert result.measurements["neuromelanin_cnr"].value == pytest.approx(case.truth["nm_cnr"], rel=1e-9)
    assert result.measurements["qsm_mean"].value == pytest.approx(case.truth["qsm_mean_sn_ppm"], rel=1e-5)
    assert result.flags == []


def test_a_study_without_enough_echoes_or_qsm(tmp_path, nigra_model):
    case = generate_case("nigra", 12)
    write_case(case, tmp_path / "studies", "nifti")
    folder = tmp_path / "studies" / "nigra-0012"
    (folder / "qsm.nii.gz").unlink()
    batch = api.run("nigra", folder, tmp_path / "out", model=nigra_model)
    assert any("no QSM map" in flag for flag in batch.results[0].flags)
    for number in (3, 4, 5):
        (folder / f"echo{number}.nii.gz").unlink()
    with pytest.raises(InputError, match=r"needs echo ranks \[1, 2, 3\] but 2 image"):
        api.run("nigra", folder, tmp_path / "out2", model=nigra_model)
    with pytest.raises(InputError, match="--slice, --level and --spacing do not apply"):
        api.run("nigra", folder, tmp_path / "out3", model=nigra_model, slice_index=3)


def test_evaluate_reports_dice_and_agreement_with_plots(tmp_path, nigra_model):
    for seed in (200, 201, 202):
        write_case(generate_case("nigra", seed), tmp_path / "held-out", "nifti")
    result = runner.invoke(app, ["evaluate", "nigra", "--data", str(tmp_path / "held-out"), "--model",
                                 str(nigra_model), "--out", str(tmp_path / "eval"), "--data-kind", "phantom"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert summary["cases"] == 3 and summary["leaked_patients"] == []
    volume = summary["agreement"]["substantia_nigra_volume"]
    assert volume["n"] + volume["missing"] == 3 and volume["unit"] == "mm3"
    if volume["n"]:
        assert (tmp_path / "eval" / volume["plot"]).is_file()
    assert "Pearson r" in result.output


def test_segmenter_takes_the_recipe_channels(nigra_model):
    segmenter = Segmenter.load(nigra_model)
    case = generate_case("nigra", 13)
    prediction = segmenter.segment([s.image for s in case.series[:3]])
    assert prediction.probabilities.shape == (4, 20, 64, 64)
    assert np.all((prediction.probabilities >= 0) & (prediction.probabilities <= 1))
    with pytest.raises(InputError, match=r"takes 3 input image\(s\)"):
        segmenter.segment(case.image)


@pytest.mark.data
def test_real_neuromelanin_cases_import_with_sides_split(tmp_path):
    from radiomark.io.nifti import read_nifti
    from radiomark.recipes.nigra.dataset import import_kcl

    source = shared_data("mri-neuromelanin-kcl")
    cases = import_kcl(source, tmp_path / "kcl")
    assert [case.name for case in cases] == ["kcl-sub-001", "kcl-sub-002"]
    for case in cases:
        labels = read_nifti(case / "labels.nii.gz")
        counts = [int(np.count_nonzero(labels.array == value)) for value in (1, 2, 3, 4)]
        assert all(counts) and abs(counts[0] - counts[1]) < 0.1 * (counts[0] + counts[1])  # near-symmetric
        # the right SN lies at smaller LPS x (patient's right) than the left one
        centres = [labels.index_to_point(np.argwhere(labels.array == value).mean(axis=0))[0] for value in (1, 2)]
        assert centres[0] < centres[1]


def test_a_ct_study_is_refused_in_one_line(tmp_path, nigra_model):
    study = write_case(generate_case("sarcopenia", 1), tmp_path / "ct", "dicom")
    result = runner.invoke(app, ["run", "nigra", str(study), "--model", str(nigra_model), "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no series meets the rules of nigra" in result.output and "modality CT, not MR" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
