"""The bundled default sarcopenia model: loads, and segments a phantom it never saw, from DICOM."""

from __future__ import annotations

import json

import pytest

from radiomark import api
from radiomark.inference.predictor import Segmenter, bundled_model_dir
from radiomark.io import read_image
from radiomark.metrics import overlap_scores
from radiomark.phantoms import generate_case, write_case
from radiomark.pipeline import postprocess


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
