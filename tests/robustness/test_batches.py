"""Batches survive broken studies and resume; inputs are never modified; results are deterministic."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from tests.helpers import tiny_phantoms, tiny_recipe

runner = CliRunner()


def _hashes(folder: Path) -> dict[str, tuple[str, float]]:
    """Content hash and modification time of every file under ``folder``."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _cohort(out: Path) -> list[str]:
    with open(out / "cohort.csv", newline="") as stream:
        return sorted(row["case"] for row in csv.DictReader(stream))


def test_n_studies_with_k_broken_give_n_minus_k_results_and_resume(tmp_path):
    cohort = tiny_phantoms(tmp_path / "cohort", range(4), fmt="dicom", size=128)
    for name in ("sarcopenia-0001", "sarcopenia-0003"):
        broken = cohort / name / "dicom" / "ct_l3" / "IM0001.dcm"
        broken.write_bytes(broken.read_bytes()[:1500])
    out = tmp_path / "out"
    first = runner.invoke(app, ["run", "sarcopenia", str(cohort), "--out", str(out)])
    assert first.exit_code == 1, first.output
    assert _cohort(out) == ["sarcopenia-0000", "sarcopenia-0002"]
    with open(out / "failures.csv", newline="") as stream:
        failures = list(csv.DictReader(stream))
    assert [Path(f["study"]).name for f in failures] == ["sarcopenia-0001", "sarcopenia-0003"]
    assert all(f["error"] == "DicomError" and "IM0001.dcm" in f["message"] for f in failures)
    cohort_page = (out / "cohort.html").read_text()
    assert "href='sarcopenia-0000/report.html'" in cohort_page and "Failed studies" in cohort_page
    assert (out / "cohort_distributions.png").stat().st_size > 1000
    done_before = _hashes(out / "sarcopenia-0000")
    tiny_phantoms(tmp_path / "fixed", range(3, 4), fmt="dicom", size=128)  # the site re-exports one study
    (cohort / "sarcopenia-0003" / "dicom" / "ct_l3" / "IM0001.dcm").write_bytes(
        (tmp_path / "fixed" / "sarcopenia-0003" / "dicom" / "ct_l3" / "IM0001.dcm").read_bytes())
    batch = api.run("sarcopenia", cohort, out, resume=True)
    assert sorted(batch.resumed) == ["sarcopenia-0000", "sarcopenia-0002"]
    assert [r.case_id for r in batch.results] == ["sarcopenia-0003"] and len(batch.failures) == 1
    assert _cohort(out) == ["sarcopenia-0000", "sarcopenia-0002", "sarcopenia-0003"]
    assert _hashes(out / "sarcopenia-0000") == done_before  # complete outputs are not redone


def test_inputs_are_never_modified_by_run_train_or_convert(tmp_path):
    data = tiny_phantoms(tmp_path / "data", range(6), fmt="dicom")
    before = _hashes(data)
    api.run("sarcopenia", data, tmp_path / "out")
    api.train(str(tiny_recipe(tmp_path)), data, tmp_path / "run", epochs=1)
    api.convert(data / "sarcopenia-0000" / "dicom" / "ct_l3", tmp_path / "x.nii.gz")
    api.info(data)
    assert _hashes(data) == before


def test_same_input_and_model_give_identical_outputs(tmp_path):
    study = tiny_phantoms(tmp_path / "in", range(1), fmt="dicom", size=128) / "sarcopenia-0000"
    api.run("sarcopenia", study, tmp_path / "a", sex="F", height_m=1.6, weight_kg=60)
    api.run("sarcopenia", study, tmp_path / "b", sex="F", height_m=1.6, weight_kg=60)
    case_a, case_b = tmp_path / "a" / "sarcopenia-0000", tmp_path / "b" / "sarcopenia-0000"
    assert (case_a / "labels.nii.gz").read_bytes() == (case_b / "labels.nii.gz").read_bytes()
    measures_a = json.loads((case_a / "measurements.json").read_text())["measurements"]
    measures_b = json.loads((case_b / "measurements.json").read_text())["measurements"]
    assert measures_a == measures_b


def test_wrong_modality_for_the_recipe_is_a_clear_error(tmp_path):
    import pytest

    from radiomark.errors import InputError
    from tests.helpers import pydicom_file

    with pytest.raises(InputError, match=r"MR_small\.dcm: no series meets the rules of sarcopenia.*modality MR"):
        api.run("sarcopenia", pydicom_file("MR_small.dcm"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_training_with_the_same_data_and_seed_gives_identical_weights(tmp_path):
    import torch

    recipe = tiny_recipe(tmp_path)
    data = tiny_phantoms(tmp_path / "data", range(6))
    for run in ("a", "b"):
        api.train(str(recipe), data, tmp_path / run, epochs=1)
    first = torch.load(tmp_path / "a" / "fold_0" / "best.pt", weights_only=True)
    second = torch.load(tmp_path / "b" / "fold_0" / "best.pt", weights_only=True)
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_outputs_never_replace_the_input_or_foreign_folders(tmp_path):
    import pytest

    from radiomark.errors import InputError

    study = tiny_phantoms(tmp_path / "in", range(1), fmt="dicom", size=64) / "sarcopenia-0000"
    before = _hashes(study)
    with pytest.raises(InputError, match="the output folder would replace the input"):
        api.run("sarcopenia", study, study.parent)
    foreign = tmp_path / "out" / "sarcopenia-0000"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not a radiomark result; refusing to replace it"):
        api.run("sarcopenia", study, tmp_path / "out")
    assert (foreign / "notes.txt").read_text() == "mine" and _hashes(study) == before


def test_library_warnings_are_summarised_and_logged_not_printed(tmp_path):
    import warnings

    from radiomark.case import CaseResult, Clinical
    from radiomark.pipeline.batch import Study, run_batch

    def noisy(study: Study, name: str) -> CaseResult:
        for _ in range(3):
            warnings.warn("a library complains about PATIENT^NAME", UserWarning, stacklevel=1)
        warnings.warn("another one", RuntimeWarning, stacklevel=1)
        (tmp_path / "out" / name).mkdir(parents=True, exist_ok=True)
        return CaseResult(name, str(study.path), Clinical(), {}, [], None, ["a flag"])

    studies = [Study(tmp_path / f"s{k}") for k in range(2)]
    for study in studies:
        study.path.mkdir()
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        batch = run_batch(studies, tmp_path / "out", noisy)
    assert outside == []  # none escaped the run
    assert batch.warnings == ["UserWarning: a library complains about PATIENT^NAME",
                              "RuntimeWarning: another one"]  # a warning is counted once per place in the code
    log = (tmp_path / "out" / "radiomark.log").read_text()
    assert "case s0: 0 measurements; no finding\n  QC: a flag" in log and "warning RuntimeWarning: another one" in log
    private = run_batch(studies, tmp_path / "private", noisy, pseudonymise=True)
    assert private.warnings == ["UserWarning", "RuntimeWarning"]
    assert "PATIENT" not in (tmp_path / "private" / "radiomark.log").read_text()


def test_quiet_prints_nothing_but_errors_and_verbose_contradicts_it(tmp_path):
    runner = CliRunner()
    quiet = runner.invoke(app, ["-q", "phantom", "sarcopenia", str(tmp_path / "p"), "--cases", "1"])
    assert quiet.exit_code == 0 and quiet.stdout == "", quiet.output
    both = runner.invoke(app, ["-q", "-v", "phantom", "sarcopenia", str(tmp_path / "q")])
    assert both.exit_code == 2 and "contradict" in both.output
