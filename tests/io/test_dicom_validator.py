"""DICOM SEG and SR outputs pass dciodvfy, David Clunie's IOD validator (Debian dicom3tools),
installed by the test when missing and possible."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pydicom

from radiomark import api
from radiomark.phantoms import write_case
from radiomark.recipes.neonatal_rds.phantom import generate as neonatal_rds_case
from tests.helpers import require_debian_packages, tiny_phantoms, tiny_recipe

DCIODVFY = "/usr/bin/dciodvfy"


def _errors(path: Path) -> list[str]:
    done = subprocess.run([DCIODVFY, "-new", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]


def test_ct_seg_and_sr_have_no_validator_errors(tmp_path):
    require_debian_packages({DCIODVFY: "dicom3tools"})
    study = tiny_phantoms(tmp_path / "in", range(1), fmt="dicom", size=128) / "sarcopenia-0000"
    api.run("sarcopenia", study, tmp_path / "out", dicom_sr=True, sex="M", height_m=1.8, weight_kg=80)
    for name in ("seg.dcm", "sr.dcm"):
        assert _errors(tmp_path / "out" / "sarcopenia-0000" / name) == [], name


def test_radiograph_seg_and_sr_have_no_validator_errors(tmp_path):
    require_debian_packages({DCIODVFY: "dicom3tools"})
    folder = write_case(neonatal_rds_case(1, size=64), tmp_path / "in", "dicom")
    write_case(neonatal_rds_case(2, size=64), tmp_path / "in", "dicom")
    run = tmp_path / "run"
    api.train(str(tiny_recipe(tmp_path, "neonatal-rds")), tmp_path / "in", run, epochs=1)
    api.run("neonatal-rds", folder / "dicom", tmp_path / "out", model=run, dicom_sr=True)
    for name in ("seg.dcm", "sr.dcm"):
        assert _errors(tmp_path / "out" / "dicom" / name) == [], name
    meanings = {str(e.value) for e in pydicom.dcmread(tmp_path / "out" / "dicom" / "sr.dcm").iterall()
                if e.keyword == "CodeMeaning"}
    assert any(m.startswith("XR") for m in meanings) and not any(m.startswith("CT") for m in meanings)


def test_phantom_dicom_of_every_recipe_has_no_validator_errors(tmp_path):
    require_debian_packages({DCIODVFY: "dicom3tools"})
    from radiomark.phantoms import generate_case
    from radiomark.recipes.registry import names

    files = []
    for recipe in names():
        folder = write_case(generate_case(recipe, 1), tmp_path, "dicom")  # seed 1: the MONOCHROME1 radiograph
        files += sorted(folder.rglob("IM0001.dcm"))
    assert len(files) >= 5
    assert {str(path.relative_to(tmp_path)): _errors(path) for path in files} == {
        str(path.relative_to(tmp_path)): [] for path in files}


def test_volume_seg_and_sr_have_no_validator_errors_and_reference_the_series(tmp_path):
    """A volume's SR names the source series once per segment (not every slice again)."""
    from radiomark.phantoms import generate_case

    require_debian_packages({DCIODVFY: "dicom3tools"})
    study = write_case(generate_case("nigra", 5), tmp_path / "in", "dicom")
    api.run("nigra", study, tmp_path / "out", dicom_sr=True)
    case = tmp_path / "out" / "nigra-0005"
    for name in ("seg.dcm", "sr.dcm"):
        assert _errors(case / name) == [], name
    sr, seg = pydicom.dcmread(case / "sr.dcm"), pydicom.dcmread(case / "seg.dcm")
    series = {str(e.value) for e in sr.iterall() if e.keyword == "UID"}
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID in series
