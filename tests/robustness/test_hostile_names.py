"""Names and tags from inputs are data, never paths, markup or formulas (issue: hostile inputs, round 2).

Each test reproduces a failure seen on radiomark 0.1: case folders that collide, a study folder
name that matplotlib took for mathtext (the cohort aborted), a path or tag that rich took for
markup (a traceback), escape sequences passed to the terminal, formulas in CSV cells.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from tests.helpers import edit_dicom, tiny_phantoms

runner = CliRunner()


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_studies_whose_names_collide_get_distinct_stable_case_folders(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    made = tiny_phantoms(tmp_path / "made", range(500, 502), fmt="dicom")
    tiny_phantoms(made, range(502, 503))
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    shutil.copy(next((made / "sarcopenia-0500").rglob("*.dcm")), cohort / "x.dcm")
    shutil.copytree(made / "sarcopenia-0501" / "dicom", cohort / "x")
    shutil.copy(made / "sarcopenia-0502" / "ct_l3.nii.gz", cohort / "x.nii.gz")
    batch = api.run("sarcopenia", cohort, tmp_path / "out", model=model)
    assert sorted(result.case_id for result in batch.results) == ["x", "x.dcm", "x.nii.gz"]
    assert sorted(row["case"] for row in _rows(tmp_path / "out" / "cohort.csv")) == ["x", "x.dcm", "x.nii.gz"]
    assert {row["source"] for row in _rows(tmp_path / "out" / "cohort.csv")} == {
        str(cohort / name) for name in ("x", "x.dcm", "x.nii.gz")}
    again = api.run("sarcopenia", cohort, tmp_path / "out", model=model, resume=True)
    assert sorted(again.resumed) == ["x", "x.dcm", "x.nii.gz"] and not again.results


def test_a_name_with_mathtext_or_a_formula_is_shown_literally_and_the_cohort_finishes(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    made = tiny_phantoms(tmp_path / "made", range(510, 513))
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    for seed, name in zip(range(510, 513), ("b-$\\foo$", "=HYPERLINK(1)", "plain"), strict=True):
        shutil.copy(made / f"sarcopenia-{seed:04d}" / "ct_l3.nii.gz", cohort / f"{name}.nii.gz")
    batch = api.run("sarcopenia", cohort, tmp_path / "out", model=model)
    assert not batch.failures and len(batch.results) == 3
    cases = {row["case"] for row in _rows(tmp_path / "out" / "cohort.csv")}
    assert cases == {"b-$_foo$", "'=HYPERLINK(1)", "plain"}  # a formula is quoted, never run; \\ is not a name
    assert (tmp_path / "out" / "b-$_foo$" / "overlay.png").is_file()  # drawn with $...$ in its title


def test_markup_in_tags_is_escaped_in_the_html_report(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    study = tiny_phantoms(tmp_path / "in", range(520, 521), fmt="dicom") / "sarcopenia-0520"
    for file in study.rglob("*.dcm"):
        edit_dicom(file, PatientName="<script>alert(1)</script>")
    api.run("sarcopenia", study, tmp_path / "out", model=model, keep_identifiers=("patient_name",))
    report = (tmp_path / "out" / "sarcopenia-0520" / "report.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report and "<script>alert" not in report


def test_case_ids_are_single_safe_path_components(tmp_path, monkeypatch):
    from radiomark.pipeline.batch import case_id, safe_component

    monkeypatch.chdir(tmp_path)
    assert case_id(Path("..")) == tmp_path.parent.name and case_id(Path(".")) == tmp_path.name
    assert case_id(Path("/")) == "case" and case_id(Path("scan.nii.gz")) == "scan"
    assert safe_component("a\nb\x1b") == "a_b_" and safe_component("..") == "case"
    assert safe_component("x/../y") == "x_.._y"


def test_markup_and_escapes_in_paths_and_tags_print_literally(tmp_path):
    folder = tmp_path / "[/x]"
    study = tiny_phantoms(folder, range(530, 531), fmt="dicom") / "sarcopenia-0530"
    for file in study.rglob("*.dcm"):
        edit_dicom(file, SeriesDescription="[/fs] \x1b]0;pwned\x07\x1b[31mred", PatientID="[/]")
    result = runner.invoke(app, ["info", str(folder)])
    assert result.exit_code == 0, result.output
    assert "[/fs]" in result.stdout and "[/]" in result.stdout and "\x1b" not in result.stdout
    assert "\x07" not in result.stdout and "pwned" in result.stdout  # the text stays, the escape does not
    missing = runner.invoke(app, ["run", "sarcopenia", str(folder / "[/none]"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "[/none]" in missing.output and "Traceback" not in missing.output
