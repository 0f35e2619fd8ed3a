"""One series-rules engine for every recipe: a real-looking multi-series head CT (localizer, 5 mm,
2.5 mm, a DERIVED reformat, no descriptions) read by brain-gwr on its 2.5 mm series, with every
other series' reason; kernels; --series / --select on run, measure and evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.io.dicom import scan_dicom
from radiomark.io.dicom_write import DicomSeriesSpec, write_dicom_series
from radiomark.io.series_rules import choose, judge_series
from radiomark.io.sitk import resample_like
from radiomark.phantoms import generate_case
from radiomark.phantoms.case import make_study
from radiomark.recipes import load_recipe
from radiomark.recipes.series_schema import SeriesRules

ORIGINAL = ["ORIGINAL", "PRIMARY", "AXIAL"]
CORONAL = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # columns: slice, row, column axes (LPS)


def _resliced(image: Image, thickness_mm: float) -> Image:
    """``image`` resampled to slices ``thickness_mm`` apart over the same extent (HU kept as int16)."""
    count = int(image.shape[0] * image.spacing_mm[0] / thickness_mm)
    grid = Image(np.zeros((count, *image.shape[1:]), np.int16), (thickness_mm, *image.spacing_mm[1:]),
                 image.origin_mm)
    resampled = resample_like(Image(np.asarray(image.array, np.float32), image.spacing_mm, image.origin_mm,
                                    metadata=image.metadata), grid, linear=True)
    return Image(np.round(resampled.array).astype(np.int16), grid.spacing_mm, grid.origin_mm,
                 metadata=image.metadata)


def _series(root, study, image, name, number, image_type, thickness):
    spec = DicomSeriesSpec("CT", "", number, intercept=-1024.0,
                           extra={"ImageType": image_type, "KVP": "120", "ConvolutionKernel": "H30s"})
    folder = root / f"{number:03d}"  # PACS exports name series folders by number
    write_dicom_series(image, folder, study, spec, f"multi/{name}")
    if thickness is not None:  # the writer records the spacing; a scanner records the nominal thickness
        import pydicom

        for file in folder.iterdir():
            dataset = pydicom.dcmread(file)
            dataset.SliceThickness = f"{thickness:g}"
            dataset.save_as(file)


@pytest.fixture(scope="module")
def head_ct_study(tmp_path_factory):
    """A head CT study as a PACS exports it: localizer, 5 mm and 2.5 mm axial, a DERIVED 2 mm axial
    reformat and a DERIVED coronal reformat; no SeriesDescription anywhere."""
    root = tmp_path_factory.mktemp("head-ct") / "study"
    case = generate_case("brain-gwr", 3)
    volume = case.image
    study = make_study("multi-series-head-ct", patient_age_years=60, patient_sex="F")
    localizer = Image(np.asarray(volume.array)[:, 40:41, :].transpose(1, 0, 2).copy(), (2.0, 3.0, 2.0),
                      volume.origin_mm, direction=CORONAL, metadata=volume.metadata)
    _series(root, study, localizer, "localizer", 1, ["ORIGINAL", "PRIMARY", "LOCALIZER"], None)
    _series(root, study, _resliced(volume, 5.0), "5mm", 2, ORIGINAL, 5.0)
    _series(root, study, _resliced(volume, 2.5), "2.5mm", 3, ORIGINAL, 2.5)
    _series(root, study, _resliced(volume, 2.0), "reformat", 4, ["DERIVED", "SECONDARY", "REFORMATTED"], 2.0)
    coronal = Image(np.asarray(volume.array).transpose(1, 0, 2).copy(), (2.0, 3.0, 2.0), volume.origin_mm,
                    direction=CORONAL, metadata=volume.metadata)
    _series(root, study, coronal, "coronal", 5, ["DERIVED", "SECONDARY", "REFORMATTED"], 2.0)
    return root


def test_brain_gwr_rules_choose_the_thin_original_axial_series(head_ct_study):
    rules = load_recipe("brain-gwr").series
    verdicts = judge_series(scan_dicom(head_ct_study), rules)
    assert len(verdicts) == 5 and sum(v.chosen for v in verdicts) == 1
    (chosen,) = [v for v in verdicts if v.chosen]
    assert chosen.series.slice_thickness_mm == 2.5 and chosen.series.image_type[0] == "ORIGINAL"
    assert "2.5 mm slices" in chosen.reason and "preferred over 2 other matching series" in chosen.reason
    reasons = [v.reason for v in verdicts if not v.chosen]
    assert any(r.startswith("ImageType LOCALIZER") for r in reasons), reasons
    assert any("orientation coronal, not axial" in r for r in reasons), reasons
    assert any("(original: ORIGINAL vs DERIVED/SECONDARY)" in r for r in reasons), reasons
    assert any("(thinnest: 2.5 mm slices vs 5.0 mm slices)" in r for r in reasons), reasons


def test_run_reads_the_chosen_series_and_records_why(head_ct_study, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "brain-gwr", str(head_ct_study), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "chosen by rules 'brain-gwr'" in result.output and "2.5 mm slices" in result.output
    assert "ImageType LOCALIZER" in result.output  # every other series is listed with its reason
    record = json.loads((out / "study" / "measurements.json").read_text())["series"]
    assert "2.5 mm slices" in record["why"] and len(record["not_chosen"]) == 4
    measured = json.loads((out / "study" / "measurements.json").read_text())["measurements"]
    assert measured, "the chosen series gives measurements"
    assert "chosen by rules" in (out / "study" / "report.html").read_text()


def test_series_and_select_override_the_rules(head_ct_study, tmp_path):
    found = scan_dicom(head_ct_study)
    five = next(s for s in found if s.slice_thickness_mm == 5.0)
    rules = load_recipe("brain-gwr").series
    assert choose(found, rules.with_selection(series_uid=five.series_uid[-10:]), "x").chosen == (five,)
    assert choose(found, rules.with_selection("slice_thickness_mm=5"), "x").chosen == (five,)
    with pytest.raises(InputError, match="not a SeriesInstanceUID"):
        rules.with_selection(series_uid="12")
    with pytest.raises(InputError, match="did you mean 'kernel'"):
        rules.with_selection("kernal=B30")
    with pytest.raises(InputError, match="no series meets the rules of brain-gwr.*fails description=~nothing"):
        choose(found, rules.model_copy(update={"name": "brain-gwr"}).with_selection("description=~nothing"), "x")
    result = CliRunner().invoke(app, ["run", "brain-gwr", str(head_ct_study), "--out", str(tmp_path / "o"),
                                      "--series", five.series_uid[-12:]])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "o" / "study" / "measurements.json").read_text())["series"]
    assert record["uid"] == five.series_uid


def test_a_soft_tissue_kernel_wins_over_a_bone_kernel(tmp_path):
    study = make_study("kernels")
    slab = Image(np.full((4, 32, 32), 40, np.int16), (3.0, 1.0, 1.0), metadata={"modality": "CT"})
    for number, kernel in ((1, "B70f"), (2, "B30f"), (3, "LUNG")):
        write_dicom_series(slab, tmp_path / str(number), study, DicomSeriesSpec(
            "CT", "", number, intercept=-1024.0, extra={"ImageType": ORIGINAL, "ConvolutionKernel": kernel}),
            f"kernel/{number}")
    choice = choose(scan_dicom(tmp_path), load_recipe("sarcopenia").series, "x")
    assert choice.chosen[0].kernel == "B30f" and "kernel B30f" in choice.reason


def test_rules_are_validated_as_recipe_data():
    with pytest.raises(ValueError, match="weighting 'T9'"):
        SeriesRules(weighting="T9")
    with pytest.raises(ValueError, match="unknown series field .colour"):
        SeriesRules(require=("colour=red",))


@pytest.mark.parametrize("command", ["run", "measure", "evaluate", "index", "convert"])
def test_series_choice_options_exist_where_messages_name_them(command):
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert "--select" in result.output
    if command != "index":
        assert "--series" in result.output


def test_index_shows_the_choice_for_any_recipe(head_ct_study, tmp_path):
    result = CliRunner().invoke(app, ["index", "brain-gwr", str(head_ct_study), "--out", str(tmp_path / "i.csv")],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    verdicts = api.index("brain-gwr", head_ct_study, tmp_path / "j.csv")
    assert sum(v.chosen for v in verdicts) == 1 and (tmp_path / "i.csv").is_file()


def test_sarcopenia_prefers_the_portal_venous_phase_and_says_so(tmp_path):
    study = make_study("phases")
    slab = Image(np.full((4, 32, 32), 40, np.int16), (3.0, 1.0, 1.0), metadata={"modality": "CT"})
    phases = {1: ("Arterial 3mm", ""), 2: ("ABD NON CONTRAST", ""), 3: ("Abdomen PV 3.0 B30f", "Omnipaque"),
              4: ("Delayed", "Omnipaque"), 5: ("", "Iohexol")}
    for number, (description, agent) in phases.items():
        write_dicom_series(slab, tmp_path / str(number), study, DicomSeriesSpec(
            "CT", description, number, intercept=-1024.0,
            extra={"ImageType": ORIGINAL, "ConvolutionKernel": "B30f", "ContrastBolusAgent": agent}),
            f"phase/{number}")
    found = {s.description: s.contrast_phase for s in scan_dicom(tmp_path)}
    assert found == {"Arterial 3mm": "arterial", "ABD NON CONTRAST": "non_contrast", "Abdomen PV 3.0 B30f":
                     "portal_venous", "Delayed": "delayed", "": "contrast"}
    choice = choose(scan_dicom(tmp_path), load_recipe("sarcopenia").series, "x")
    assert choice.chosen[0].description == "Abdomen PV 3.0 B30f" and "contrast phase portal venous" in choice.reason
    without = choose([s for s in scan_dicom(tmp_path) if s.contrast_phase != "portal_venous"],
                     load_recipe("sarcopenia").series, "x")
    assert without.chosen[0].description == "ABD NON CONTRAST"
    with pytest.raises(ValueError, match="contrast phases \\['venous'\\]"):
        SeriesRules(contrast_phases=("venous",))
