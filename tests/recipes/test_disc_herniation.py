"""disc-herniation: clinical inputs, thecal sac measures, split, and index → train → evaluate → run
on DICOM phantoms (a small image size keeps it fast)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from radiomark import api
from radiomark.biomarkers.thecal_sac import thecal_sac_measures
from radiomark.cli import app
from radiomark.errors import InputError, RecipeError
from radiomark.herniation.evaluation import bootstrap_intervals
from radiomark.herniation.recipe import load_herniation_recipe
from radiomark.herniation.samples import Sample, read_labels
from radiomark.herniation.tabular import tabular_vector
from radiomark.herniation.training import split_patients
from radiomark.image import Image
from radiomark.phantoms import generate_case
from radiomark.phantoms.shapes import ellipsoid
from tests.helpers import SHARED_DATA

RECIPE = load_herniation_recipe()



def test_clinical_values_are_scaled_by_the_recipe():
    vector = tabular_vector({"age_years": "70", "sex": "F", "thecal_sac_width_mm": 20, "disc_level": "L5-S1"},
                            RECIPE, "test")
    np.testing.assert_allclose(vector, [(70 - 50) / 20, 0.0, (20 - 15) / 5, 4 / 4])


@pytest.mark.parametrize(("values", "message"), [
    ({"sex": "M", "thecal_sac_width_mm": 12, "disc_level": "L4-L5"}, "missing age_years"),
    ({"age_years": 130, "sex": "M", "thecal_sac_width_mm": 12, "disc_level": "L4-L5"}, "outside 0–120"),
    ({"age_years": 50, "sex": "X", "thecal_sac_width_mm": 12, "disc_level": "L4-L5"}, "not M or F"),
    ({"age_years": 50, "sex": "M", "thecal_sac_width_mm": "wide", "disc_level": "L4-L5"}, "not a number"),
    ({"age_years": 50, "sex": "M", "thecal_sac_width_mm": 12, "disc_level": "T12-L1"}, "not one of"),
])
def test_bad_clinical_values_are_named(values, message):
    with pytest.raises(InputError, match=message):
        tabular_vector(values, RECIPE, "labels.csv line 2")


def test_thecal_sac_measures_match_an_ellipse_of_known_size():
    # Semi-axes 7 rows (front-back) and 10 columns (left-right) of 0.5 mm pixels on an axial slice.
    mask = ellipsoid((64, 64), (32, 32), (7.0, 10.0))
    image = Image(array=np.zeros((64, 64), np.float32), spacing_mm=(0.5, 0.5))
    measures = thecal_sac_measures(mask, image)
    assert measures["thecal_sac_width_mm"] == pytest.approx(21 * 0.5)
    assert measures["thecal_sac_ap_mm"] == pytest.approx(15 * 0.5)
    assert measures["thecal_sac_area_mm2"] == pytest.approx(np.pi * 7 * 10 * 0.25, rel=0.03)


def test_thecal_sac_measures_reproduce_the_phantom_truth():
    case = generate_case("disc-herniation", 2)
    labels = np.asarray(case.labels.array)
    for level, truth in case.truth["levels"].items():
        index = truth["slice_index"]
        slice_image = Image(array=labels[index], spacing_mm=case.labels.spacing_mm[1:],
                            direction=case.labels.direction[:, 1:])
        measures = thecal_sac_measures(np.isin(labels[index], RECIPE.canal_labels), slice_image)
        for name in ("thecal_sac_width_mm", "thecal_sac_ap_mm", "thecal_sac_area_mm2"):
            assert measures[name] == pytest.approx(truth[name]), (level, name)


def test_split_keeps_patients_on_one_side_and_every_side_filled():
    rng = np.random.default_rng(0)
    samples = [Sample(f"p{p}", level, Path("x.dcm"), np.zeros(4, np.float32), int(rng.random() < 0.4))
               for p in range(30) for level in RECIPE.levels]
    split = split_patients(samples, RECIPE)
    sides = [set(split[name]) for name in ("train", "validation", "test")]
    assert all(sides) and not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert set().union(*sides) == {s.patient for s in samples}
    assert 4 <= len(sides[2]) <= 8 and 4 <= len(sides[1]) <= 8


def test_bootstrap_interval_brackets_the_estimate_and_is_exact_when_perfect():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 60)
    noisy = np.clip(truth * 0.4 + rng.random(60) * 0.6, 0, 1)
    patients = [f"p{i // 3}" for i in range(60)]
    low, high = bootstrap_intervals(truth, noisy, patients, 0.5, 300)["roc_auc"]
    from sklearn.metrics import roc_auc_score

    assert low < roc_auc_score(truth, noisy) < high
    assert bootstrap_intervals(truth, truth.astype(float), patients, 0.5, 100)["roc_auc"] == (1.0, 1.0)


def test_labels_table_errors_name_the_line(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("patient,disc_level,herniation\nA,L4/5,yes\nA,L4-L5,0\n")
    with pytest.raises(InputError, match="line 3: a second label"):
        read_labels(path, RECIPE)
    path.write_text("patient,disc_level,herniation\nA,L4-L5,maybe\n")
    with pytest.raises(InputError, match="line 2: herniation 'maybe'"):
        read_labels(path, RECIPE)
    path.write_text("patient,level\nA,L4-L5\n")
    with pytest.raises(InputError, match="missing column"):
        read_labels(path, RECIPE)


def test_invalid_recipe_is_a_recipe_error(tmp_path):
    document = RECIPE.model_dump(mode="json") | {"training": {"split": [0.5, 0.5, 0.5]}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(RecipeError, match="invalid recipe"):
        load_herniation_recipe(tmp_path / "bad.yaml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """18 phantom patients → index → a 3-epoch run at 48 × 48 pixels with the ablation."""
    root = tmp_path_factory.mktemp("herniation")
    api.make_phantoms("disc-herniation", root / "studies", cases=18)
    index = root / "index.csv"
    api.index("disc-herniation", root / "studies", index)
    recipe = RECIPE.model_copy(update={
        "image": RECIPE.image.model_copy(update={"size": (48, 48)}),
        "network": RECIPE.network.model_copy(update={"image_channels": (8, 16, 32), "embedding": 32,
                                                     "tabular_units": 32, "head": (32,)}),
        "bootstrap": 200})
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json")))
    summary = api.train_herniation(index, root / "studies" / "labels.csv", root / "run", epochs=3,
                                   recipe=root / "recipe.yaml")
    return root, summary


def test_training_writes_every_model_and_keeps_test_patients_unseen(trained):
    root, summary = trained
    run = root / "run"
    for mode in ("fused", "image", "tabular"):
        history = json.loads((run / mode / "history.json").read_text())
        assert (run / mode / "best.pt").is_file() and len(history) == 3
    split = json.loads((run / "split.json").read_text())
    assert sum(summary["patients"].values()) == 18 and summary["images"]["test"] == 5 * len(split["test"])
    assert (run / "training_curve.png").is_file()
    # Resuming a finished run trains nothing more.
    again = api.train_herniation(root / "index.csv", root / "studies" / "labels.csv", run, epochs=3,
                                 recipe=root / "recipe.yaml")
    assert again["models"]["fused"]["best_epoch"] == summary["models"]["fused"]["best_epoch"]
    with pytest.raises(InputError, match="different recipe"):  # the bundled recipe is not the run's
        api.train_herniation(root / "index.csv", root / "studies" / "labels.csv", run, epochs=3)


def test_the_image_branch_learns_the_phantom_bulge(trained, tmp_path):
    from radiomark.herniation.samples import assemble_samples, load_images
    from radiomark.herniation.training import train_herniation

    root, _ = trained
    recipe = RECIPE.model_copy(update={
        "image": RECIPE.image.model_copy(update={"size": (64, 64)}),
        "network": RECIPE.network.model_copy(update={"image_channels": (16, 32, 64, 128), "embedding": 64,
                                                     "head": (64,)}),
        "training": RECIPE.training.model_copy(update={"batch_size": 8})})
    samples = assemble_samples(root / "index.csv", root / "studies" / "labels.csv", recipe)
    train_herniation(recipe, samples, load_images(samples, recipe), tmp_path, epochs=15, modes=("image",))
    losses = [record["train_loss"] for record in json.loads((tmp_path / "image" / "history.json").read_text())]
    assert losses[-1] < 0.8 * losses[0], losses


def test_evaluate_scores_held_out_patients_with_intervals(trained, tmp_path):
    root, _ = trained
    summary = api.evaluate_herniation(root / "index.csv", root / "studies" / "labels.csv", root / "run", tmp_path,
                                      data_kind="phantom")
    split = json.loads((root / "run" / "split.json").read_text())
    assert summary["patients"] == len(split["test"]) and summary["excluded_seen_patients"] == 18 - len(split["test"])
    for mode in ("fused", "image", "tabular"):
        scores = summary["models"][mode]
        low, high = scores["ci95"]["accuracy"]
        assert 0 <= low <= scores["accuracy"] <= high <= 1 and 0 <= scores["brier"] <= 1
    for name in ("evaluation.json", "per_image.csv", "roc.png", "calibration.png"):
        assert (tmp_path / name).is_file()
    with open(tmp_path / "per_image.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["patient"] for row in rows} == set(split["test"])


def test_run_classifies_every_level_from_dicom(trained, tmp_path):
    root, _ = trained
    study = root / "studies" / "disc-herniation-0005"
    (result,) = api.run_herniation(study, tmp_path, root / "run", canal_mask=study / "labels.nii.gz").results
    truth = json.loads((study / "truth.json").read_text())["truth"]["levels"]
    assert [f.name for f in result.findings if f.name.startswith("herniation")] == [f"herniation {level}"
                                                                                    for level in truth]
    for level, expected in truth.items():
        key = level.lower().replace("-", "_")
        assert 0 <= result.measurements[f"{key}_herniation_probability"].value <= 1
        assert result.measurements[f"{key}_thecal_sac_area"].value == pytest.approx(expected["thecal_sac_area_mm2"])
    assert "T2_TSE_TRA" in result.series["description"] and result.case_id == "disc-herniation-0005"
    for path in result.outputs.values():
        assert Path(path).is_file()
    written = json.loads((tmp_path / "disc-herniation-0005" / "measurements.json").read_text())
    assert written["schema"] == "radiomark.measurements/1" and written["recipe"] == "disc-herniation"
    assert written["clinical"]["age_years"] > 0 and written["series"]["uid"] == result.series["uid"]
    cohort = api.run_herniation(root / "studies", tmp_path / "cohort", root / "run", sac_width=13.0)
    assert len(cohort.results) == 18 and (tmp_path / "cohort" / "cohort.csv").is_file()
    assert [Path(failure.study).name for failure in cohort.failures] == ["labels.csv"]  # not a study
    again = api.run_herniation(root / "studies", tmp_path / "cohort", root / "run", sac_width=13.0, resume=True)
    assert len(again.resumed) == 18 and not again.results


def test_run_without_a_sac_width_fails_and_writes_nothing(trained, tmp_path):
    root, _ = trained
    result = CliRunner().invoke(app, ["run", "disc-herniation", str(root / "studies" / "disc-herniation-0001"),
                                      "--model", str(root / "run"), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and "--sac-width" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_asks_for_what_disc_herniation_needs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", "disc-herniation", "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "--index" in result.output
    result = runner.invoke(app, ["run", "disc-herniation", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "no bundled disc-herniation model" in result.output


@pytest.mark.skipif(not (SHARED_DATA / "mri-lumbar-t2" / "t2_lumbar.nii.gz").is_file(),
                    reason="the real lumbar MRI is in ../shared/data/mri-lumbar-t2 (absent here)")
def test_real_lumbar_reformat_is_indexed_by_its_description(tmp_path):
    from radiomark.recipes.disc_herniation.dataset import DISC_SLICES, write_real_lumbar_study

    write_real_lumbar_study(SHARED_DATA / "mri-lumbar-t2", tmp_path / "studies" / "real")
    found = api.index("disc-herniation", tmp_path / "studies", tmp_path / "index.csv")
    (chosen,) = [v for v in found if v.chosen]
    assert chosen.series.description == "T2 AX reformat" and chosen.levels == tuple(reversed(DISC_SLICES))
    assert "no EchoTime/RepetitionTime" in chosen.weighting.reason
    sagittal = next(v for v in found if not v.chosen)
    assert str(sagittal.series.orientation) == "sagittal"


@pytest.mark.parametrize("branch", ["study_cnn", "efficientnet-b0"])
@pytest.mark.parametrize("mode", ["fused", "image", "tabular"])
def test_every_branch_and_ablation_gives_one_logit_per_image(branch, mode):
    import torch

    from radiomark.herniation.network import FusionNet

    spec = RECIPE.network.model_copy(update={"image_branch": branch})
    logits = FusionNet(spec, len(RECIPE.tabular), mode)(torch.rand(3, 1, 64, 64), torch.rand(3, len(RECIPE.tabular)))
    assert logits.shape == (3,) and torch.isfinite(logits).all()


def test_patient_ids_that_look_like_paths_never_leave_out(trained, tmp_path):
    """PatientID ``../victim`` once deleted ``OUT/../victim``; ``.`` wiped OUT, ``../study`` the input."""
    import shutil

    from tests.helpers import edit_dicom

    root, _ = trained
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("user data")
    for index, patient in enumerate(["../victim", str(victim), ".", "../study", "..", "a/../../victim"]):
        study = tmp_path / f"in{index}" / "study"
        shutil.copytree(root / "studies" / "disc-herniation-0002", study)
        for file in study.rglob("*.dcm"):
            edit_dicom(file, PatientID=patient)
        before = sorted(p.relative_to(study) for p in study.rglob("*"))
        out = tmp_path / f"in{index}" / "out"
        (result,) = api.run_herniation(study, out, root / "run", sac_width=13.0).results
        assert Path(result.outputs["measurements.json"]).parent == out / "study"
        assert sorted(p.relative_to(study) for p in study.rglob("*")) == before
        assert (victim / "keep.txt").read_text() == "user data"
        assert {p.name for p in out.iterdir()} == {"study", "cohort.csv", "cohort.html", "radiomark.log"}
