"""Privacy: with --anonymize no original identifier survives in any output byte or name; without
it, identifiers appear in the tables and reports only where --keep-identifiers asks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radiomark.cli import app
from tests.helpers import edit_dicom, tiny_phantoms

PHI = {"PatientName": "Zyxw^Qwerty", "PatientID": "PID778899", "PatientBirthDate": "19450102",
       "AccessionNumber": "ACC556677"}
NEEDLES = ("Zyxw", "Qwerty", "778899", "19450102", "556677")
runner = CliRunner()


def _study(folder: Path, name: str) -> Path:
    study = tiny_phantoms(folder, range(900, 901), fmt="dicom") / "sarcopenia-0900"
    for file in study.rglob("*.dcm"):
        edit_dicom(file, **PHI)
    return study.rename(folder / name)


def _text(path: Path) -> str:
    """What a reader finds in ``path``: its bytes as text, and for a PDF the extracted text."""
    text = path.read_bytes().decode("latin-1")
    if path.suffix == ".pdf":
        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (Debian poppler-utils) is not installed; `make test` installs it")
        text += subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text


def _leaks(out: Path, needles: tuple[str, ...], names: tuple[str, ...] | None = None) -> list[str]:
    found = []
    for path in sorted(out.rglob("*")):
        found += [f"{path.relative_to(out)} (name): {n}" for n in needles if n in path.name]
        if path.is_file() and (names is None or path.name in names):
            text = _text(path)
            found += [f"{path.relative_to(out)}: {n}" for n in needles if n in text]
    return found


def test_anonymize_leaves_no_identifier_in_any_output_byte_or_name(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    study = _study(tmp_path / "in", "Zyxw_PID778899")  # folders named after the patient are common
    out = tmp_path / "out"
    arguments = ["run", "sarcopenia", str(study), "--model", str(model), "--out", str(out), "--anonymize",
                 "--dicom-sr", "--pdf", "--sex", "F", "--height", "1.6", "--weight", "60"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    written = {path.name for path in out.rglob("*") if path.is_file()}
    assert {"seg.dcm", "sr.dcm", "report.pdf", "report.html", "measurements.json", "cohort.csv"} <= written
    assert _leaks(out, NEEDLES) == []
    assert [n for n in NEEDLES if n in result.output.replace(str(study), "")] == []  # the log
    again = runner.invoke(app, [*arguments, "--resume"])
    assert again.exit_code == 0 and "1 already done" in again.output  # the pseudonym is stable


def test_a_failure_under_anonymize_names_the_case_not_the_patient(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    cohort = tmp_path / "cohort"
    _study(cohort, "Zyxw_PID778899")
    broken = tiny_phantoms(tmp_path / "made", range(901, 902), fmt="dicom") / "sarcopenia-0901"
    for file in broken.rglob("*.dcm"):
        edit_dicom(file, **PHI, RescaleSlope=0)
    shutil.move(broken, cohort / "Qwerty_778899")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "sarcopenia", str(cohort), "--model", str(model), "--out", str(out),
                                 "--anonymize"])
    assert result.exit_code == 1 and "RescaleSlope is 0" in result.output, result.output
    assert _leaks(out, NEEDLES) == [] and not [n for n in NEEDLES if n in result.output.replace(str(cohort), "")]


def test_without_anonymize_identifiers_appear_only_where_kept(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    study = _study(tmp_path / "in", "study-1")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "sarcopenia", str(study), "--model", str(model), "--out", str(out),
                                 "--keep-identifiers", "patient_id", "--pdf"])
    assert result.exit_code == 0, result.output
    tables_and_reports = ("measurements.json", "measurements.csv", "report.html", "report.pdf", "overlay.png",
                          "cohort.csv", "cohort.html")
    assert _leaks(out, ("Zyxw", "Qwerty", "19450102", "556677"), tables_and_reports) == []
    kept = _leaks(out, ("778899",), tables_and_reports)
    assert {line.split(":")[0] for line in kept} >= {"study-1/measurements.json", "study-1/report.html"}


def test_an_anonymised_run_json_names_no_input_and_reproduces_with_the_input_given(tmp_path, tiny_sarcopenia):
    import json

    _, model = tiny_sarcopenia
    study = _study(tmp_path / "in", "Zyxw_PID778899")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "sarcopenia", str(study), "--model", str(model), "--out", str(out),
                                 "--anonymize", "--sex", "F", "--height", "1.6", "--weight", "60"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    assert record["inputs"]["path"] == record["arguments"]["input_path"] == "(withheld: --anonymize)"
    assert _leaks(out, NEEDLES) == [] and "files" not in record["inputs"] and record["command"] is None
    refused = runner.invoke(app, ["reproduce", str(out), "--out", str(tmp_path / "again")])
    assert refused.exit_code == 2 and "give it with --input" in refused.stderr
    again = runner.invoke(app, ["reproduce", str(out), "--out", str(tmp_path / "again"), "--input", str(study)])
    assert again.exit_code == 0 and "reproduced: 1 cases" in again.stdout, again.output
