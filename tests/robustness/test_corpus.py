"""Every corpus input reads correctly or fails with its expected error naming the file; the CLI
answers each with exit 0 or a one-line error and exit 2, never a traceback."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radiomark.errors import RadiomarkError, one_line
from radiomark.image import Image
from radiomark.io import read_image
from tests.robustness.corpus import build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def test_each_input_reads_or_fails_as_expected(corpus):
    outcomes = []
    for item in corpus:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                image = read_image(item.path)
            except RadiomarkError as error:
                assert item.error is not None, f"{item.name}: unexpected {type(error).__name__}: {error}"
                assert isinstance(error, item.error), f"{item.name}: {type(error).__name__}: {error}"
                assert item.fragment in str(error), f"{item.name}: {error}"
                assert one_line(item.path.name) in str(error), f"{item.name}: the message names no file: {error}"
                outcomes.append("typed error")
            else:
                assert item.error is None, f"{item.name}: read although {item.error.__name__} was expected"
                assert isinstance(image, Image) and image.array.size > 0
                outcomes.append("read")
    assert len(corpus) >= 35 and outcomes.count("typed error") >= 15


def test_the_cli_never_shows_a_traceback(corpus):
    from radiomark.cli import app

    runner = CliRunner()
    for item in corpus:
        result = runner.invoke(app, ["info", str(item.path)])
        assert result.exit_code in (0, 2), f"{item.name}: exit {result.exit_code}: {result.output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), f"{item.name}: {result.exception}"
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert result.stderr.strip().count("\n") == 0, f"{item.name}: {result.stderr}"


def test_the_radiograph_recipe_answers_every_corpus_input_in_one_cohort_run(corpus, tmp_path):
    import csv

    from radiomark.cli import app

    root = corpus[0].path.parent
    assert all(item.path.parent == root for item in corpus)
    result = CliRunner().invoke(app, ["run", "neonatal-rds", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output  # some studies work, the others are listed
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    with open(tmp_path / "out" / "failures.csv", newline="") as stream:
        failures = list(csv.DictReader(stream))
    done = [p.name for p in (tmp_path / "out").iterdir() if (p / "measurements.json").is_file()]
    assert failures and done
    for failure in failures:
        assert "\n" not in failure["message"] and one_line(Path(failure["study"]).name) in failure["message"], failure
    refused = {Path(f["study"]).name: f["message"] for f in failures}
    assert "modality CT, not CR/DX/OT" in refused["CT_small.dcm"]  # a CT slice is no radiograph
    assert "not a readable PNG/JPEG" in refused["fake.png"]
    assert {"RG1_UNCR", "16bit.png", "rgb.png"} <= set(done), done  # radiographs, DICOM or PNG, go through
