"""The command line end to end: phantoms → info → convert, and one-line refusals with exit 2."""

from __future__ import annotations

import json

import numpy as np
import SimpleITK as sitk
from typer.testing import CliRunner

from radiomark.cli import app

runner = CliRunner()


def test_phantom_info_convert_end_to_end(tmp_path):
    out = tmp_path / "p"
    result = runner.invoke(app, ["phantom", "sarcopenia", str(out), "--format", "dicom", "--cases", "3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["info", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3 and all(row["modality"] == "CT" and not row["problems"] for row in rows)
    truth = {json.loads((out / f"sarcopenia-000{i}" / "truth.json").read_text())["case_id"]: i for i in range(3)}
    assert len(truth) == 3
    for row in rows:
        case = out / row["patient"].removeprefix("PHANTOM-") / "dicom" / "ct_l3"
        expected = sitk.ReadImage(str(next(case.iterdir()))).GetSpacing()[:2]
        assert row["spacing_xyz_mm"] == list(expected)
    table = runner.invoke(app, ["info", str(out)])
    assert table.exit_code == 0 and "3 series in" in table.stdout
    series = out / "sarcopenia-0001" / "dicom" / "ct_l3"
    result = runner.invoke(app, ["convert", str(series), str(tmp_path / "l3.nii.gz")])
    assert result.exit_code == 0, result.output
    converted, reference = sitk.ReadImage(str(tmp_path / "l3.nii.gz")), sitk.ReadImage(str(next(series.iterdir())))
    np.testing.assert_allclose(converted.GetOrigin(), reference.GetOrigin(), atol=1e-5)
    np.testing.assert_allclose(converted.GetSpacing(), reference.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(converted.GetDirection(), reference.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(converted), sitk.GetArrayFromImage(reference))


def test_convert_selects_the_t2_axial_series_by_rules(tmp_path):
    runner.invoke(app, ["phantom", "disc-herniation", str(tmp_path / "p")])
    study = tmp_path / "p" / "disc-herniation-0000" / "dicom"
    result = runner.invoke(app, ["convert", str(study), str(tmp_path / "t2.nii.gz"),
                                 "--select", "modality=MR,description=~t2,orientation=axial"])
    assert result.exit_code == 0, result.output
    reference = sitk.ReadImage(str(tmp_path / "t2.nii.gz"))
    assert reference.GetSize() == (128, 128, 5)
    ambiguous = runner.invoke(app, ["convert", str(study), str(tmp_path / "any.nii.gz"), "--select", "modality=MR"])
    assert ambiguous.exit_code == 2 and "3 series match selection 'modality=MR'" in ambiguous.stderr
    typo = runner.invoke(app, ["convert", str(study), str(tmp_path / "any.nii.gz"), "--select", "modalty=MR"])
    assert typo.exit_code == 2 and "did you mean 'modality'?" in typo.stderr
    assert not (tmp_path / "any.nii.gz").exists()


def test_bad_input_gives_one_line_exit_2_and_writes_nothing(tmp_path):
    (tmp_path / "fake.dcm").write_text("hello")
    result = runner.invoke(app, ["convert", str(tmp_path / "fake.dcm"), str(tmp_path / "out.nii.gz")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "fake.dcm: not a DICOM file" in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.dcm"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["info", str(empty)])
    assert result.exit_code == 2 and "folder is empty" in result.stderr


def test_unknown_recipe_and_format_are_usage_errors(tmp_path):
    assert runner.invoke(app, ["phantom", "sarcopaenia", str(tmp_path)]).exit_code == 2
    result = runner.invoke(app, ["phantom", "nigra", str(tmp_path / "x"), "--format", "png"])
    assert result.exit_code == 2 and "use dicom or nifti for nigra" in result.stderr
    assert not (tmp_path / "x").exists()


def test_version_and_help_are_instant():
    assert runner.invoke(app, ["--version"]).stdout.startswith("radiomark ")
    assert "phantom" in runner.invoke(app, ["--help"]).stdout


def test_info_reads_single_nifti_and_png_files(tmp_path):
    runner.invoke(app, ["phantom", "nigra", str(tmp_path / "n"), "--format", "nifti"])
    runner.invoke(app, ["phantom", "neonatal-rds", str(tmp_path / "x"), "--format", "png"])
    (nifti_row,) = json.loads(runner.invoke(app, ["info", str(tmp_path / "n" / "nigra-0000" / "echo1.nii.gz"),
                                                  "--json"]).stdout)
    assert nifti_row["size_xyz"] == [64, 64, 20] and nifti_row["spacing_xyz_mm"] == [0.75, 0.75, 1.5]
    assert nifti_row["orientation"] == "axial"
    (png_row,) = json.loads(runner.invoke(app, ["info", str(tmp_path / "x" / "neonatal-rds-0000" / "cxr.png"),
                                                "--json"]).stdout)
    assert png_row["size_xyz"] == [256, 256] and png_row["spacing_xyz_mm"] is None


def test_argument_errors_come_before_torch_loads_with_a_did_you_mean(tmp_path):
    """Each bad argument is refused before any heavy module is imported (so in well under 1.5 s)."""
    import subprocess
    import sys

    study = tmp_path / "study.nii.gz"
    study.write_bytes(b"")
    cases = {("--sex", "mail"): "did you mean 'male'?", ("--height", "175"): "--height is in metres",
             ("--table", "prad2008"): "did you mean 'prado2008'?", ("--level", "L33"): "did you mean 'L3'?"}
    script = ("import sys\nfrom radiomark.cli import app\ntry:\n    app(sys.argv[1:])\nexcept SystemExit as done:\n"
              "    heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'monai', 'matplotlib'})\n"
              "    print('exit', done.code, 'heavy', heavy)\n")
    for (option, value), expected in cases.items():
        done = subprocess.run([sys.executable, "-c", script, "run", "sarcopenia", str(study), "--out",
                               str(tmp_path / "o"), option, value], capture_output=True, text=True, timeout=120)
        assert "exit 2 heavy []" in done.stdout, (option, done.stdout, done.stderr)
        assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "o").exists()
