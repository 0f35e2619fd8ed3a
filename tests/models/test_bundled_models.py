"""The bundled default models: they load, carry their cards, and work on images they never saw."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radiomark import api
from radiomark.inference.predictor import Segmenter, bundled_model_dir
from radiomark.io import read_image
from radiomark.metrics import overlap_scores
from radiomark.phantoms import generate_case, write_case
from radiomark.pipeline.steps import postprocess
from radiomark.recipes import load_recipe, read_recipe
from radiomark.training.splits import patient_splits
from tests.helpers import pydicom_file, shared_data


def test_bundled_model_ships_its_card_and_records():
    folder = bundled_model_dir("sarcopenia")
    for name in ("MODEL_CARD.md", "recipe.yaml", "metrics.json", "fold_0/best.pt"):
        assert (folder / name).is_file(), name
    card = (folder / "MODEL_CARD.md").read_text()
    assert "phantom" in card and "model-made" in card and "radiomark train" in card


def test_golden_run_from_dicom_to_measurements(tmp_path):
    case = generate_case("sarcopenia", 123_456)  # training used seeds 0-399
    folder = write_case(case, tmp_path / "in", "dicom")
    segmenter = Segmenter.load(bundled_model_dir("sarcopenia"))
    image = read_image(folder / "dicom" / "ct_l3")
    scores = overlap_scores(postprocess(segmenter.recipe, image, segmenter.predict(image)), case.labels)
    assert all(score["iou"] > 0.85 for score in scores.values()), scores
    batch = api.run("sarcopenia", folder, tmp_path / "out")
    (result,) = batch.results
    assert result.measurements["skeletal_muscle_area"].value == pytest.approx(case.truth["sma_cm2"], rel=0.1)
    document = json.loads((tmp_path / "out" / "sarcopenia-123456" / "measurements.json").read_text())
    assert document["clinical"]["sex"] == case.clinical["sex"]
    assert {f["name"] for f in document["findings"]} == {"sarcopenia"}


def test_bundled_neonatal_model_ships_its_card_and_records():
    folder = bundled_model_dir("neonatal-rds")
    for name in ("MODEL_CARD.md", "recipe.yaml", "metrics.json", "fold_0/best.pt", "classifier/best.pt",
                 "classifier/recipe.yaml", "classifier/metrics.json"):
        assert (folder / name).is_file(), name
    card = (folder / "MODEL_CARD.md").read_text()
    assert "JSRT" in card and "Kermany" in card and "research" in card and "neonatal" in card
    assert read_recipe(folder / "classifier" / "recipe.yaml").classifier.classes == ("normal", "pneumonia")


def test_bundled_lung_model_on_held_out_jsrt_patients(tmp_path):
    from radiomark.recipes.neonatal_rds.dataset import import_jsrt

    cases = import_jsrt(shared_data("cxr-jsrt"), tmp_path / "jsrt")
    _, test = patient_splits([case.name for case in cases], 1, 0.2, seed=0)[0]  # the benchmark's split
    for index in test[:4]:
        (tmp_path / "held-out").mkdir(exist_ok=True)
        (tmp_path / "held-out" / cases[index].name).symlink_to(cases[index])
    summary = api.evaluate("neonatal-rds", tmp_path / "held-out", tmp_path / "eval", data_kind="JSRT held out")
    assert summary["leaked_patients"] == []
    assert min(summary["dice"].values()) > 0.93, summary["dice"]


def test_bundled_neonatal_run_on_a_real_chest_cr(tmp_path):
    import highdicom as hd
    import pydicom

    from radiomark.io.raster import read_raster

    source = pydicom_file("RG1_UNCR.dcm")  # real CR, MONOCHROME1, PixelSpacing 0\\0 (unknown)
    (result,) = api.run("neonatal-rds", source, tmp_path, dicom_sr=True).results
    for name in ("labels.png", "measurements.json", "measurements.csv", "overlay.png", "report.html", "seg.dcm",
                 "sr.dcm"):
        assert (tmp_path / "RG1_UNCR" / name).is_file(), name
    labels = read_raster(tmp_path / "RG1_UNCR" / "labels.png").array
    columns = np.arange(labels.shape[1])
    assert columns[np.nonzero(labels == 1)[1]].mean() < labels.shape[1] / 2 < columns[np.nonzero(labels == 2)[1]].mean()
    area = result.measurements["lung_area"]
    assert str(area.unit) == "{pixels}" and 0.15 < area.value / labels.size < 0.6
    assert 0 <= result.measurements["pneumonia_probability"].value <= 1
    assert [f.name for f in result.findings] == ["pneumonia"]
    seg = hd.seg.segread(tmp_path / "RG1_UNCR" / "seg.dcm")
    back = seg.get_pixels_by_source_instance([pydicom.dcmread(source).SOPInstanceUID], combine_segments=True)
    np.testing.assert_array_equal(back[0], labels)


def test_bundled_nigra_model_ships_its_card_and_plan():
    folder = bundled_model_dir("nigra")
    for name in ("MODEL_CARD.md", "recipe.yaml", "plan.json", "metrics.json", "fold_0/best.pt"):
        assert (folder / name).is_file(), name
    card = (folder / "MODEL_CARD.md").read_text()
    assert "phantom" in card and "VNet" in card and "DynUNet" in card and "CC BY-NC" in card
    recipe = load_recipe(folder / "recipe.yaml")
    assert recipe.network.name == "dynunet" and recipe.inputs.echoes == (1, 2, 3)


def test_bundled_nigra_golden_run_from_multi_echo_dicom(tmp_path):
    case = generate_case("nigra", 123_456)  # training used seeds 0-79
    folder = write_case(case, tmp_path / "in", "dicom")
    (result,) = api.run("nigra", folder, tmp_path / "out", dicom_sr=True).results
    labels = read_image(tmp_path / "out" / "nigra-123456" / "labels.nii.gz")
    from radiomark.image import LabelMap

    predicted = LabelMap.like(case.labels, np.asarray(labels.array).astype(np.uint8), case.labels.labels)
    scores = overlap_scores(predicted, case.labels)
    assert all(score["dice"] > 0.85 for score in scores.values()), scores
    assert result.measurements["substantia_nigra_volume"].value == pytest.approx(case.truth["sn_volume_mm3"], rel=0.1)
    assert result.measurements["qsm_mean"].value == pytest.approx(case.truth["qsm_mean_sn_ppm"], abs=0.01)
    assert result.flags == []


def test_bundled_brain_gwr_model_ships_its_card_and_plan():
    folder = bundled_model_dir("brain-gwr")
    for name in ("MODEL_CARD.md", "recipe.yaml", "plan.json", "metrics.json", "fold_0/best.pt"):
        assert (folder / name).is_file(), name
    card = (folder / "MODEL_CARD.md").read_text()
    assert "semi-synthetic" in card and "CQ500" in card and "non-commercial" in card
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["patients"] == 48 and not set(metrics["folds"][0]["train_patients"]) & set(
        metrics["folds"][0]["validation_patients"])
