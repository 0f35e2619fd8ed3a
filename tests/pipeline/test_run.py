"""`run`, `measure` and `evaluate` end to end with a model trained here on tiny phantoms."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from tests.helpers import tiny_phantoms

runner = CliRunner()
OUTPUTS = ("labels.nii.gz", "measurements.json", "measurements.csv", "overlay.png", "report.html")


@pytest.fixture
def tiny_model(tiny_sarcopenia) -> Path:
    return tiny_sarcopenia[1]


def test_run_from_a_dicom_phantom_writes_every_output(tmp_path, tiny_model):
    study = tiny_phantoms(tmp_path / "studies", range(100, 101), fmt="dicom") / "sarcopenia-0100"
    result = runner.invoke(app, ["run", "sarcopenia", str(study), "--out", str(tmp_path / "out"),
                                 "--model", str(tiny_model), "--table", "martin2013"])
    assert result.exit_code == 0, result.output
    case = tmp_path / "out" / "sarcopenia-0100"
    assert all((case / name).is_file() for name in OUTPUTS)
    document = json.loads((case / "measurements.json").read_text())
    names = {m["name"] for m in document["measurements"]}
    assert {"skeletal_muscle_area", "skeletal_muscle_index", "skeletal_muscle_area_per_bmi"} <= names
    truth = json.loads((study / "truth.json").read_text())
    assert document["clinical"]["height_m"] == truth["clinical"]["height_m"]  # read from PatientSize
    assert {f["table"] for f in document["findings"]} == {"martin2013"}
    assert (tmp_path / "out" / "cohort.csv").is_file()
    assert "skeletal muscle area" in result.stdout and "overlay:" in result.stdout
    report = (case / "report.html").read_text()
    assert '<img src="overlay.png"' in report and "J Clin Oncol 2013" in report
    assert report.count("<tr><td>skeletal muscle") >= 3  # area, mean attenuation, index, ...
    assert "[hnsf&#x27;U]" in report  # units are escaped, not interpreted


def test_a_corrupt_study_does_not_stop_the_batch(tmp_path, tiny_model):
    cohort = tiny_phantoms(tmp_path / "cohort", range(200, 203), fmt="dicom")
    broken = cohort / "sarcopenia-0201" / "dicom" / "ct_l3" / "IM0001.dcm"
    broken.write_bytes(broken.read_bytes()[:2000])
    (cohort / "notes.txt").write_text("not a study")
    result = runner.invoke(app, ["run", "sarcopenia", str(cohort), "--out", str(tmp_path / "out"),
                                 "--model", str(tiny_model), "--sex", "F", "--height", "1.6", "--weight", "60"])
    assert result.exit_code == 1, result.output
    with open(tmp_path / "out" / "cohort.csv") as stream:
        assert [row["case"] for row in csv.DictReader(stream)] == ["sarcopenia-0200", "sarcopenia-0202"]
    with open(tmp_path / "out" / "failures.csv") as stream:
        failures = {row["study"].split("/")[-1]: row["error"] for row in csv.DictReader(stream)}
    assert failures == {"notes.txt": "DicomError", "sarcopenia-0201": "DicomError"}
    assert not (tmp_path / "out" / "sarcopenia-0201").exists()


def test_volume_needs_a_slice_and_clinical_values_are_checked(tmp_path, tiny_model):
    study = tiny_phantoms(tmp_path / "s", range(300, 301), fmt="dicom") / "sarcopenia-0300"
    result = runner.invoke(app, ["run", "sarcopenia", str(study), "--out", str(tmp_path / "o"),
                                 "--model", str(tiny_model), "--height", "162"])
    assert result.exit_code == 2 and "--height is in metres" in result.stderr
    assert not (tmp_path / "o").exists()


def test_measure_reproduces_the_phantom_truth_from_its_mask(tmp_path):
    case = tiny_phantoms(tmp_path, range(5), size=128) / "sarcopenia-0004"
    truth = json.loads((case / "truth.json").read_text())
    clinical = truth["clinical"]
    result = runner.invoke(app, ["measure", "sarcopenia", str(case / "ct_l3.nii.gz"), str(case / "labels.nii.gz"),
                                 "--out", str(tmp_path / "m"), "--sex", clinical["sex"],
                                 "--height", str(clinical["height_m"]), "--weight", str(clinical["weight_kg"])])
    assert result.exit_code == 0, result.output
    measured = {m["name"]: m["value"] for m in json.loads(
        (tmp_path / "m" / "ct_l3" / "measurements.json").read_text())["measurements"]}
    expected = truth["truth"]
    for name, key in (("skeletal_muscle_area", "sma_cm2"), ("subcutaneous_fat_area", "sat_area_cm2"),
                      ("visceral_fat_area", "vat_area_cm2"), ("skeletal_muscle_index", "smi_cm2_m2"),
                      ("skeletal_muscle_area_per_bmi", "sma_per_bmi_cm2_m2_per_kg"),
                      ("skeletal_muscle_mean_attenuation", "muscle_mean_hu")):
        assert measured[name] == pytest.approx(expected[key], rel=0.005), name
    assert measured["vat_sat_ratio"] == pytest.approx(expected["vat_area_cm2"] / expected["sat_area_cm2"])


def test_evaluate_reports_overlap_agreement_and_leaks(tmp_path, tiny_model):
    tiny_phantoms(tmp_path / "held_out", range(400, 403))
    result = runner.invoke(app, ["evaluate", "sarcopenia", "--data", str(tmp_path / "held_out"), "--out",
                                 str(tmp_path / "eval"), "--model", str(tiny_model), "--data-kind", "phantom"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert summary["cases"] == 3 and summary["leaked_patients"] == []
    assert 0.0 <= summary["iou"]["skeletal_muscle"] <= 1.0
    muscle = summary["agreement"]["skeletal_muscle_area"]
    assert muscle["unit"] == "cm2" and muscle["bland_altman"]["n"] == 3 and muscle["missing"] == 0
    assert -1.0 <= muscle["pearson_r"] <= 1.0 and muscle["icc_a1"] <= 1.0
    assert (tmp_path / "eval" / "bland_altman_skeletal_muscle_area.png").is_file()
    seen = tiny_model.parent / "data"
    leaked = api.evaluate("sarcopenia", seen, tmp_path / "eval2", model=tiny_model)
    assert len(leaked["leaked_patients"]) == 6


def test_a_volume_without_a_level_needs_slice_and_runs_with_it(tmp_path, tiny_model):
    """90 mm of soft tissue without a spine: no level can be counted, so --slice is asked for; a
    9 mm slab is measured at its middle slice and flagged; --slice overrides."""
    import numpy as np

    from radiomark.image import Image
    from radiomark.io.nifti import write_nifti
    from radiomark.recipes.sarcopenia.phantom import generate as sarcopenia_case

    slice_image = sarcopenia_case(7, size=64).image
    for slices, name in ((30, "volume"), (3, "slab")):
        volume = Image(array=np.stack([slice_image.array] * slices), spacing_mm=(3.0, *slice_image.spacing_mm),
                       origin_mm=slice_image.origin_mm)
        write_nifti(volume, tmp_path / f"{name}.nii.gz")
    result = runner.invoke(app, ["run", "sarcopenia", str(tmp_path / "volume.nii.gz"), "--out", str(tmp_path / "o"),
                                 "--model", str(tiny_model)])
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "L3 not found" in message and "give --slice K (0..29" in message
    assert result.stderr.strip().count("\n") == 0 and not (tmp_path / "o").exists()
    result = runner.invoke(app, ["run", "sarcopenia", str(tmp_path / "slab.nii.gz"), "--out", str(tmp_path / "s"),
                                 "--model", str(tiny_model)])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "s" / "slab" / "measurements.json").read_text())
    assert document["level"]["slice_index"] == 1 and document["level"]["confidence"] == "none"
    assert any("slab of 9 mm" in flag for flag in document["qc_flags"])
    result = runner.invoke(app, ["run", "sarcopenia", str(tmp_path / "volume.nii.gz"), "--out", str(tmp_path / "o"),
                                 "--model", str(tiny_model), "--slice", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "volume" / "overlay.png").is_file()
    assert "not decided: sex not given" in (tmp_path / "o" / "volume" / "measurements.json").read_text()
    assert not (tmp_path / "o" / "volume" / "level.png").exists()


def test_a_case_folder_with_labels_is_one_study(tmp_path):
    from radiomark.phantoms import generate_case, write_case
    from radiomark.pipeline.batch import discover_studies

    folder = write_case(generate_case("sarcopenia", 0), tmp_path, "nifti")  # image, labels.nii.gz, truth.json
    assert [study.path for study in discover_studies(folder)] == [folder]
    assert [study.path for study in discover_studies(tmp_path)] == [folder]


def test_each_dicom_study_is_scanned_once(tmp_path, tiny_model, monkeypatch):
    import radiomark.io.study
    import radiomark.pipeline.batch
    from radiomark.io.dicom import scan_dicom

    scanned = []

    def counting(path, *args, **kwargs):
        scanned.append(Path(path))
        return scan_dicom(path, *args, **kwargs)

    monkeypatch.setattr(radiomark.pipeline.batch, "scan_dicom", counting)
    monkeypatch.setattr(radiomark.io.study, "scan_dicom", counting)
    cohort = tiny_phantoms(tmp_path / "cohort", range(400, 402), fmt="dicom")
    batch = api.run("sarcopenia", cohort, tmp_path / "out", model=tiny_model)
    assert len(batch.results) == 2 and scanned == [cohort]
    single = api.run("sarcopenia", cohort / "sarcopenia-0400", tmp_path / "one", model=tiny_model)
    assert len(single.results) == 1 and len(scanned) == 2  # a case folder: read_study's own scan only


def test_a_head_ct_into_sarcopenia_is_not_decided_and_says_why(tmp_path, tiny_model):
    from radiomark.phantoms import write_case
    from radiomark.recipes.brain_gwr.phantom import generate as head_case

    write_case(head_case(0), tmp_path / "head", "dicom")
    study = next((tmp_path / "head").iterdir())
    result = runner.invoke(app, ["run", "sarcopenia", str(study), "--slice", "20", "--out", str(tmp_path / "o"),
                                 "--model", str(tiny_model), "--sex", "M", "--height", "1.75", "--weight", "80"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "o" / study.name / "measurements.json").read_text())
    assert document["findings"] and all(f["present"] is None for f in document["findings"])
    reason = document["findings"][0]["reason"]
    assert reason.startswith("not decided: quality control: the image is of the head (BodyPartExamined)")
    assert "cm wide, outside 20–75 cm" in reason and "of the body is fat" in reason
    assert "not decided" in result.stdout
    assert "not decided" in (tmp_path / "o" / study.name / "report.html").read_text()


def test_bowel_taken_for_muscle_is_not_decided_on_measure(tmp_path):
    import numpy as np

    from radiomark.io.nifti import read_nifti, write_nifti

    case = tiny_phantoms(tmp_path, range(4, 5), size=128) / "sarcopenia-0004"
    labels = read_nifti(case / "labels.nii.gz")
    array = np.asarray(labels.array).copy()
    centre = np.argwhere(array == 3).mean(axis=0)
    distance = np.hypot(*(np.indices(array.shape) - centre[:, None, None]))
    array[distance < 9] = 3  # a bowel loop in visceral fat ...
    array[distance < 6] = 1  # ... taken for muscle
    write_nifti(type(labels)(array, labels.spacing_mm, labels.origin_mm, labels.direction, labels.metadata),
                tmp_path / "edited.nii.gz")
    result = runner.invoke(app, ["measure", "sarcopenia", str(case / "ct_l3.nii.gz"), str(tmp_path / "edited.nii.gz"),
                                 "--out", str(tmp_path / "m"), "--sex", "F", "--height", "1.6", "--weight", "60"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "m" / "ct_l3" / "measurements.json").read_text())
    assert all(f["present"] is None for f in document["findings"])
    assert "lies in pieces surrounded by visceral fat" in document["findings"][0]["reason"]
    assert any("surrounded by visceral fat" in flag for flag in document["qc_flags"])


def test_run_json_records_the_run_and_reproduce_redoes_it(tmp_path, tiny_model):
    from radiomark.pipeline.provenance import sha256

    tiny_phantoms(tmp_path / "studies", range(500, 502), fmt="dicom")
    result = runner.invoke(app, ["run", "sarcopenia", str(tmp_path / "studies"), "--out", str(tmp_path / "first"),
                                 "--model", str(tiny_model), "--sex", "female", "--height", "1.6", "--weight", "60"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "first" / "run.json").read_text())
    assert record["arguments"]["sex"] == "F" and record["arguments"]["model"] == str(tiny_model.resolve())
    assert record["versions"]["radiomark"] and record["versions"]["torch"] and record["recipe"]["name"] == "sarcopenia"
    weights = next(name for name in record["model"]["files"] if name.endswith("best.pt"))
    assert record["model"]["files"][weights] == sha256(tiny_model / weights)
    assert len(record["inputs"]["files"]) == sum(1 for f in (tmp_path / "studies").rglob("*") if f.is_file())
    again = runner.invoke(app, ["reproduce", str(tmp_path / "first"), "--out", str(tmp_path / "second")])
    assert again.exit_code == 0 and "reproduced: 2 cases, the same measurements" in again.stdout, again.output
    changed = next((tmp_path / "studies").rglob("*.dcm"))
    changed.write_bytes(changed.read_bytes() + b"\0")
    refused = runner.invoke(app, ["reproduce", str(tmp_path / "first"), "--out", str(tmp_path / "third")])
    assert refused.exit_code == 2 and "the run's inputs changed since" in refused.stderr
    assert not (tmp_path / "third").exists()


def test_site_defaults_from_radiomark_toml_and_the_command_line_wins(tmp_path, tiny_model):
    config = tmp_path / "radiomark.toml"
    config.write_text('[run]\ntables = { sarcopenia = "martin2013" }\npdf = true\n')
    shown = runner.invoke(app, ["--config", str(config), "config", "show"])
    assert shown.exit_code == 0 and 'tables = { sarcopenia = "martin2013" }' in shown.stdout
    assert "pdf = true" in shown.stdout
    study = tiny_phantoms(tmp_path / "s", range(600, 601), fmt="dicom") / "sarcopenia-0600"
    result = runner.invoke(app, ["--config", str(config), "run", "sarcopenia", str(study), "--out",
                                 str(tmp_path / "o"), "--model", str(tiny_model), "--no-pdf"])
    assert result.exit_code == 0, result.output
    case = tmp_path / "o" / "sarcopenia-0600"
    assert {f["table"] for f in json.loads((case / "measurements.json").read_text())["findings"]} == {"martin2013"}
    assert not (case / "report.pdf").exists()  # --no-pdf wins over the file
    config.write_text("[run]\npdff = true\n")
    refused = runner.invoke(app, ["--config", str(config), "config", "show"])
    assert refused.exit_code == 2 and "run.pdff: Extra inputs are not permitted" in refused.stderr
