"""Recipe neonatal-rds: lung areas, post-processing steps, rotation rule, classifier, end to end."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from radiomark import api
from radiomark.biomarkers.lung_area import measure_lung_area
from radiomark.biomarkers.measurement import Unit
from radiomark.classification import classifier_input, find_labelled_images
from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.inference.predictor import Segmenter
from radiomark.metrics import classification_scores
from radiomark.phantoms import write_case
from radiomark.recipes import load_recipe, measure_parameters
from radiomark.recipes.neonatal_rds.phantom import generate as neonatal_rds_case
from tests.helpers import tiny_recipe

RECIPE = load_recipe("neonatal-rds")


def test_lung_areas_exact_on_phantom() -> None:
    case = neonatal_rds_case(3)
    measures = measure_lung_area(case.labels, measure_parameters(RECIPE))
    for name in ("right_lung_area", "left_lung_area", "lung_area"):
        assert measures[name].unit is Unit.CM2
        assert measures[name].value == pytest.approx(case.truth[f"{name}_cm2"], rel=1e-12)
    ratio = case.truth["right_lung_area_cm2"] / case.truth["left_lung_area_cm2"]
    assert measures["right_left_lung_area_ratio"].value == pytest.approx(ratio)


def test_lung_area_in_pixels_without_spacing() -> None:
    image = Image(np.zeros((10, 12)), None)
    array = np.zeros((10, 12), np.uint8)
    array[1:4, 1:5], array[5:9, 6:11] = 1, 2
    measures = measure_lung_area(LabelMap.like(image, array, RECIPE.labels), measure_parameters(RECIPE))
    assert (measures["right_lung_area"].value, measures["left_lung_area"].value) == (12, 20)
    assert measures["lung_area"].unit is Unit.PIXELS and measures["lung_area"].value == 32


def _bright(batch: np.ndarray) -> np.ndarray:
    """A stand-in network: both lung logits are high where the input is bright (pointwise)."""
    return np.concatenate([40 * (batch - 0.5), 40 * (batch - 0.5)], axis=1)


def _segmenter(fraction: float, **postprocessing: object) -> Segmenter:
    """The recipe's segmenter around :func:`_bright`, without test-time zoom unless asked."""
    update = {"test_time_scales": (), **postprocessing}
    recipe = RECIPE.model_copy(update={"postprocessing": RECIPE.postprocessing.model_copy(update=update)})
    return Segmenter(recipe, (_bright,), Path("."), fraction)


def test_rotation_rule_fires_only_below_the_area_threshold() -> None:
    array = np.zeros((64, 64))
    array[20:40, 10:30] = 100.0  # ~10 % of the image is bright
    image = Image(array, (1.0, 1.0))
    assert _segmenter(0.9).segment(image).rotation_fired  # 10 % < 0.3 × 90 %
    kept = _segmenter(0.2).segment(image)
    assert not kept.rotation_fired  # 10 % >= 0.3 × 20 %
    # A pointwise network gives the same map rotated and back: averaging changes nothing.
    np.testing.assert_array_equal(_segmenter(0.9).segment(image).labels.array, kept.labels.array)
    assert not _segmenter(0.9, rotation_rule=None).segment(image).rotation_fired


def test_test_time_zoom_maps_each_prediction_back_onto_the_network_grid() -> None:
    array = np.zeros((256, 256))  # the network grid's size
    array[20:70, 30:90] = 100.0  # off centre: a zoom not mapped back would move it by 15-30 pixels
    image = Image(array, (1.0, 1.0))
    plain = _segmenter(0.01, median_filter_radius=0).segment(image)  # 0.01: the rotation rule stays off
    for scales in ((1.3,), (0.7,), (0.92, 1.08)):
        zoomed = _segmenter(0.01, median_filter_radius=0, test_time_scales=scales).segment(image)
        # A pointwise network, zoomed and back, gives the same mask up to the edge pixels that
        # bilinear resampling blurs (one pixel deep at most).
        difference = np.count_nonzero(plain.labels.array != zoomed.labels.array)
        assert difference <= 2 * (50 + 60), (scales, difference)
        assert not np.allclose(plain.probabilities, zoomed.probabilities)  # the zoomed predictions count
    with pytest.raises(ValueError, match="greater than 0.5"):
        RECIPE.postprocessing.model_validate({"test_time_scales": [0.2]})


def test_median_filter_removes_speckle() -> None:
    array = np.zeros((256, 256))  # the network grid's size: one image pixel = one network pixel
    array[40:200, 40:200] = 100.0
    array[5, 5] = 100.0  # an isolated bright pixel
    array[120, 120] = 0.0  # a one-pixel hole
    image = Image(array, (1.0, 1.0))
    raw = _segmenter(0.2, median_filter_radius=0).segment(image).labels.array
    smoothed = _segmenter(0.2, median_filter_radius=2).segment(image).labels.array
    assert raw[5, 5] and raw[120, 120] == 0
    assert smoothed[5, 5] == 0 and smoothed[120, 120]


def test_segmenter_refuses_rotation_rule_without_training_statistics(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "fold_0").mkdir(parents=True)
    shutil.copy(tiny_recipe(tmp_path, "neonatal-rds"), run / "recipe.yaml")
    from radiomark.models.factory import build_network

    torch.save(build_network(load_recipe(run / "recipe.yaml")).state_dict(), run / "fold_0" / "best.pt")
    with pytest.raises(InputError, match="train_foreground_fraction"):
        Segmenter.load(run)


def test_classifier_input_crops_to_the_lungs() -> None:
    array = np.zeros((100, 80), np.float32)
    array[20:60, 10:70] = np.linspace(0, 1, 60)[None]
    image = Image(array, (1.0, 1.0))
    lungs = np.zeros((100, 80), np.uint8)
    lungs[30:50, 20:60] = 1
    recipe = RECIPE.model_copy(update={"classifier": RECIPE.classifier.model_copy(
        update={"spatial_size": (20, 40), "crop_margin": 0.0, "input": "masked"})})
    view = classifier_input(image, LabelMap.like(image, lungs, RECIPE.labels), recipe)
    assert view.shape == (1, 20, 40) and view.dtype == np.float32
    assert view.min() > 0  # every pixel of the crop is inside the lungs
    whole = recipe.model_copy(update={"classifier": recipe.classifier.model_copy(update={"input": "whole"})})
    assert classifier_input(image, None, whole)[0, 0, 0] == 0  # the dark corner is kept
    with pytest.raises(InputError, match="needs a segmentation"):
        classifier_input(image, None, recipe)


def test_classification_scores_by_hand() -> None:
    scores = classification_scores([0, 0, 0, 1, 1], [0.1, 0.7, 0.2, 0.8, 0.4], threshold=0.5)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert scores["sensitivity"] == pytest.approx(1 / 2) and scores["specificity"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 0.5 * 0.5 / (0.5 + 0.5))
    assert scores["roc_auc"] == pytest.approx(5 / 6)  # 5 of the 6 (positive, negative) pairs ordered right


def test_class_folders_and_patient_pattern(tmp_path: Path) -> None:
    for name in ("non_rds/person1_a.png", "non_rds/person1_b.png", "rds/person2_a.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    samples = find_labelled_images(tmp_path, ("non_rds", "rds"), r"^(person\d+)_")
    assert [(s.label, s.patient_id) for s in samples] == [(0, "person1"), (0, "person1"), (1, "person2")]
    with pytest.raises(InputError, match="does not match the patient pattern"):
        find_labelled_images(tmp_path, ("non_rds", "rds"), r"^(patient\d+)")
    with pytest.raises(InputError, match="missing class folder"):
        find_labelled_images(tmp_path, ("normal", "rds"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny segmenter and classifier trained on 12 DICOM phantoms; returns (run folder, data)."""
    root = tmp_path_factory.mktemp("neonatal")
    cases = [neonatal_rds_case(seed, size=64) for seed in range(12)]
    for case in cases:
        folder = write_case(case, root / "segment", "dicom")
        target = root / "classify" / RECIPE.classifier.classes[case.truth["rds"]] / case.case_id
        shutil.copytree(folder / "dicom", target)
    recipe = str(tiny_recipe(root, "neonatal-rds"))
    api.train(recipe, root / "segment", root / "run", epochs=2)
    summary = api.train(recipe, root / "classify", root / "run", stage="classify")
    assert set(summary["train_patients"]).isdisjoint(summary["validation_patients"])
    return root / "run", root


def test_train_run_evaluate_end_to_end(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, data = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 < metrics["folds"][0]["train_foreground_fraction"] < 1
    study = data / "segment" / "neonatal-rds-0001" / "dicom"  # MONOCHROME1
    batch = api.run("neonatal-rds", study, tmp_path / "out", model=run, dicom_seg=True)
    result = batch.results[0]
    assert {"lung_area", "right_lung_area", "left_lung_area", "rds_probability"} <= set(result.measurements)
    assert result.measurements["lung_area"].unit is Unit.CM2
    assert 0 <= result.measurements["rds_probability"].value <= 1
    (finding,) = result.findings  # decided, or withheld because this 2-epoch model's lungs are implausible
    assert finding.name == "rds" and finding.rule == "P(rds) >= 0.5"
    assert finding.present is not None or finding.reason.startswith("not decided: quality control: ")
    for name in ("labels.nii.gz", "measurements.json", "measurements.csv", "overlay.png", "report.html", "seg.dcm"):
        assert Path(result.outputs[name]).is_file(), name
    assert "rds" in (tmp_path / "out" / result.case_id / "report.html").read_text()
    summary = api.evaluate("neonatal-rds", data / "classify", tmp_path / "eval", model=run, stage="classify",
                           data_kind="phantom")
    assert summary["images"] == 12 and len(summary["leaked_patients"]) == 12  # all seen in training
    for name in ("roc.png", "confusion_matrix.png", "per_image.csv"):
        assert (tmp_path / "eval" / name).is_file()
    segmentation = api.evaluate("neonatal-rds", data / "segment", tmp_path / "seg-eval", model=run)
    assert segmentation["agreement"]["lung_area"]["n"] == 12 and segmentation["cases"] == 12


def data_dicom(trained: tuple[Path, Path]) -> Path:
    return trained[1] / "segment" / "neonatal-rds-0003" / "dicom"


def test_run_on_png_reports_pixels(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = trained
    case = neonatal_rds_case(40, size=64)
    folder = write_case(replace(case), tmp_path / "png", "png")
    png = next(folder.glob("*.png"))
    result = api.run("neonatal-rds", png, tmp_path / "out", model=run).results[0]
    assert result.measurements["lung_area"].unit is Unit.PIXELS
    assert Path(result.outputs["labels.png"]).is_file() and "labels.nii.gz" not in result.outputs
    calibrated = api.run("neonatal-rds", png, tmp_path / "calibrated", model=run, pixel_spacing_mm=0.5).results[0]
    assert calibrated.measurements["lung_area"].value == pytest.approx(
        result.measurements["lung_area"].value * 0.25 / 100)  # the same pixels, 0.25 mm² each, in cm²
    with pytest.raises(InputError, match="already has a pixel spacing"):
        api.run("neonatal-rds", data_dicom(trained), tmp_path / "refused", model=run, pixel_spacing_mm=0.5)


def test_run_without_a_trained_classifier_leaves_the_finding_undecided(trained: tuple[Path, Path],
                                                                        tmp_path: Path) -> None:
    run, data = trained
    segmenter_only = tmp_path / "segmenter-only"
    shutil.copytree(run, segmenter_only, ignore=shutil.ignore_patterns("classifier"))
    result = api.run("neonatal-rds", data / "segment" / "neonatal-rds-0002" / "dicom", tmp_path / "out",
                     model=segmenter_only).results[0]
    assert result.findings[0].present is None and "no trained classifier" in result.findings[0].reason


def test_classifier_onnx_export_matches_pytorch(trained: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the test extras")
    from radiomark.inference.classifier import ImageClassifier
    from radiomark.io import read_image

    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    record = api.export(run, repeats=2)
    assert record["classifier"]["equal"] and (run / "classifier" / "model.onnx").is_file()
    image = read_image(data_dicom(trained))
    lungs = Segmenter.load(run, backend="torch").predict(image)
    by_torch = ImageClassifier.load(run, backend="torch").probability(image, lungs)
    by_runtime = ImageClassifier.load(run, backend="onnxruntime")
    assert by_runtime.backend == "onnxruntime"
    assert by_runtime.probability(image, lungs) == pytest.approx(by_torch, abs=1e-4)


def test_joint_fine_tuning_updates_both_networks_and_keeps_the_originals(trained: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    import yaml

    run, data = tmp_path / "run", trained[1]
    shutil.copytree(trained[0], run)
    with pytest.raises(InputError, match="needs classifier input 'masked'"):
        api.train("neonatal-rds", data / "classify", run, stage="joint", epochs=1)
    document = yaml.safe_load((run / "classifier" / "recipe.yaml").read_text())
    document["classifier"]["input"] = "masked"
    (run / "classifier" / "recipe.yaml").write_text(yaml.safe_dump(document))
    summary = api.train("neonatal-rds", data / "classify", run, stage="joint", epochs=2)
    assert [record["epoch"] for record in summary["history"]] == [0, 1, 2]
    assert json.loads((run / "joint.json").read_text())["best_epoch"] == summary["best_epoch"]
    for part in ("fold_0", "classifier"):
        before = torch.load(run / part / "best.before_joint.pt", weights_only=True)
        after = torch.load(run / part / "best.pt", weights_only=True)
        changed = any(not torch.equal(before[key], after[key]) for key in before)
        assert changed == (summary["best_epoch"] > 0), part
    result = api.run("neonatal-rds", data_dicom(trained), tmp_path / "out", model=run).results[0]
    assert 0 <= result.measurements["rds_probability"].value <= 1


def test_masked_views_crop_to_the_lungs() -> None:
    from radiomark.training.joint import masked_views

    images = torch.rand(2, 1, 32, 32)
    lungs = torch.zeros(2, 1, 32, 32)
    lungs[0, 0, 8:16, 4:28] = 1.0  # the second image has no lungs: its whole grid is kept
    spec = RECIPE.classifier.model_copy(update={"spatial_size": (8, 24), "crop_margin": 0.0})
    views = masked_views(images, lungs.requires_grad_(), spec)
    assert views.shape == (2, 1, 8, 24)
    torch.testing.assert_close(views[0, 0], images[0, 0, 8:16, 4:28])  # same size: no resampling
    assert float(views[1].detach().abs().sum()) == 0.0  # masked by zero lungs
    views.sum().backward()
    assert lungs.grad is not None and float(lungs.grad.abs().sum()) > 0  # the loss reaches the mask
