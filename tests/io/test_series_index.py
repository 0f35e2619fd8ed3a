"""`radiomark index`: weighting from the tags, misleading descriptions, reasons for every series."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from radiomark.errors import InputError, RecipeError
from radiomark.image import Image
from radiomark.io.dicom_write import DicomSeriesSpec, write_dicom_series
from radiomark.io.series_rules import disc_level, load_series_rules
from radiomark.phantoms import generate_case, write_case
from radiomark.phantoms.case import make_study

LEVELS = ({"ImageComments": "L5-S1"}, {"ImageComments": "L4-L5"}, {"ImageComments": "L3-L4"})
SAGITTAL = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _timing(tr: float | None, te: float | None, sequence: str = "SE") -> dict[str, str]:
    tags = {"ScanningSequence": sequence, "SequenceVariant": "SK"}
    if tr is not None:
        tags |= {"RepetitionTime": f"{tr:g}", "EchoTime": f"{te:g}"}
    return tags


#: name -> (description, timing tags, direction, per-slice tags): a study whose descriptions lie.
SERIES = {
    "t1_named_t2": ("T2_TSE_TRA", _timing(600, 12), None, LEVELS),
    "t2_named_t1": ("AX T1 copy", _timing(4000, 100), None, LEVELS),
    "t2_sagittal_named_tra": ("T2 TRA", _timing(4000, 100), SAGITTAL, ()),
    "stir_axial": ("t2_stir_tra", _timing(4000, 60, "IR"), None, LEVELS),
    "t2_without_timing": ("t2_tra", _timing(None, None), None, ()),
    "nothing_known": ("series 7", _timing(None, None), None, ()),
}


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    study = make_study("lumbar-index")
    rng = np.random.default_rng(0)
    for number, (name, (description, tags, direction, per_slice)) in enumerate(SERIES.items(), start=1):
        geometry = {} if direction is None else {"direction": direction}
        image = Image(array=rng.integers(0, 1000, (3, 16, 16)).astype(np.uint16), spacing_mm=(4.0, 0.7, 0.7),
                      metadata={"modality": "MR"}, **geometry)
        write_dicom_series(image, root / "study" / name, study,
                           DicomSeriesSpec("MR", description, number, extra=tags, per_slice=per_slice), name)
    return root


@pytest.fixture(scope="module")
def verdicts(studies, tmp_path_factory):
    out = tmp_path_factory.mktemp("index") / "index.csv"
    found = api.index("disc-herniation", studies, out)
    return {v.series.description: v for v in found}, out


def test_timing_overrules_a_misleading_description(verdicts):
    by_description, _ = verdicts
    lying_t1 = by_description["T2_TSE_TRA"]
    assert lying_t1.weighting.guess == "T1" and not lying_t1.chosen
    assert "says T2, overruled" in lying_t1.weighting.reason and "not T2" in lying_t1.reason
    lying_t2 = by_description["AX T1 copy"]
    assert lying_t2.weighting.guess == "T2" and lying_t2.chosen
    assert "says T1, overruled" in lying_t2.weighting.reason and "3 image(s) at a disc level" in lying_t2.reason


def test_every_rejected_series_says_why(verdicts):
    by_description, _ = verdicts
    assert by_description["T2 TRA"].reason == "orientation sagittal, not axial"
    stir = by_description["t2_stir_tra"]
    assert stir.weighting.guess == "IR" and "inversion" in stir.weighting.reason and not stir.chosen
    no_timing = by_description["t2_tra"]
    assert no_timing.weighting.guess == "T2" and "no EchoTime/RepetitionTime" in no_timing.weighting.reason
    assert not no_timing.chosen and "is preferred (level_images: 3 image(s) at a disc level vs 0" in no_timing.reason
    unknown = by_description["series 7"]
    assert unknown.weighting.guess == "unknown" and "description names no weighting" in unknown.weighting.reason
    assert sum(v.chosen for v in by_description.values()) == 1


def test_the_csv_has_one_row_per_image_with_its_level(verdicts):
    by_description, out = verdicts
    with open(out, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == sum(v.series.n_slices for v in by_description.values())
    chosen = [r for r in rows if r["chosen"] == "True"]
    assert {r["description"] for r in chosen} == {"AX T1 copy"}
    assert sorted(r["disc_level"] for r in chosen) == ["L3-L4", "L4-L5", "L5-S1"]
    assert all(r["weighting"] and r["orientation"] and r["path"].endswith(".dcm") for r in rows)


@pytest.mark.parametrize(("text", "level"), [("L4-L5", "L4-L5"), ("l4/5", "L4-L5"), ("disc L5 S1", "L5-S1"),
                                             ("L1/L2 level", "L1-L2"), ("", ""), ("T12-L1", "T12-L1")])
def test_disc_level_from_free_text(text, level):
    assert disc_level(text) == level


def test_phantom_study_picks_its_t2_axial_series(tmp_path):
    case = write_case(generate_case("disc-herniation", 4), tmp_path / "studies", "dicom")
    found = api.index("disc-herniation", tmp_path / "studies", tmp_path / "index.csv")
    (chosen,) = [v for v in found if v.chosen]
    assert chosen.series.folder == case / "dicom" / "t2_axial"
    assert chosen.levels == ("L5-S1", "L4-L5", "L3-L4", "L2-L3", "L1-L2")


def test_bad_output_and_bad_rules_are_one_line_errors(studies, tmp_path):
    with pytest.raises(InputError, match="CSV"):
        api.index("disc-herniation", studies, tmp_path / "index.txt")
    with pytest.raises(InputError, match="inside the studies folder"):
        api.index("disc-herniation", studies, studies / "index.csv")
    (tmp_path / "rules.yaml").write_text("name: x\nweighting: T9\n")
    with pytest.raises(RecipeError, match="invalid series rules"):
        load_series_rules(tmp_path / "rules.yaml")
    with pytest.raises(RecipeError, match="no bundled series rules named 'nope'"):
        load_series_rules("nope")
    result = CliRunner().invoke(app, ["index", "disc-herniation", str(studies), "--out", str(tmp_path / "i.csv"),
                                      "--rules", str(tmp_path / "missing.yaml")])
    assert result.exit_code != 0 and "series rules file not found" in result.output
    assert not (tmp_path / "i.csv").exists()


def test_cli_prints_the_choice(studies, tmp_path):
    result = CliRunner().invoke(app, ["index", "disc-herniation", str(studies), "--out", str(tmp_path / "index.csv")])
    assert result.exit_code == 0, result.output
    assert "AX T1 copy" in result.output and (tmp_path / "index.csv").is_file()
