"""Procedural L3 anatomy for training the sarcopenia model (deterministic per seed, organs that
sit in the muscle HU range present and labelled background) and `train --synthetic`."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from radiomark.cli import app
from radiomark.recipes import load_recipe
from radiomark.recipes.sarcopenia.anatomy import S, SyntheticL3Dataset, anatomy, draw_patient, synthetic_slice, target


def test_a_slice_is_the_same_for_the_same_seed_and_differs_across_seeds():
    first, labels, info = synthetic_slice(7)
    again, labels_again, _ = synthetic_slice(7)
    np.testing.assert_array_equal(first.array, again.array)
    np.testing.assert_array_equal(labels.array, labels_again.array)
    assert not np.array_equal(synthetic_slice(8)[0].array[:50, :50], first.array[:50, :50]) or \
        synthetic_slice(8)[0].shape != first.shape
    assert set(np.unique(labels.array)) == {0, 1, 2, 3}
    assert info["phase"] in ("non_contrast", "arterial", "portal_venous", "delayed")


def test_organs_in_the_muscle_hu_range_are_drawn_and_are_not_muscle():
    seen = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        tissue, spacing = anatomy(rng, draw_patient(rng))
        assert 300 / 256 <= spacing <= 500 / 256
        seen |= set(np.unique(tissue).tolist())
        labels = target(tissue)
        for organ in (S.KIDNEY_CORTEX, S.LIVER, S.BOWEL_WALL, S.AORTA, S.ARM_MUSCLE, S.IMAT):
            assert not labels[tissue == organ].any()
        assert (labels[tissue == S.PSOAS] == 1).all() and (labels[tissue == S.RENAL_SINUS] == 3).all()
    assert {S.KIDNEY_CORTEX, S.BOWEL_WALL, S.PSOAS, S.PARASPINAL, S.RECTUS, S.VERTEBRA, S.AORTA} <= seen


def test_the_dataset_gives_network_samples():
    recipe = load_recipe("sarcopenia")
    sample = SyntheticL3Dataset(recipe, [3])[0]
    size = recipe.preprocessing.network_size()
    assert tuple(sample["image"].shape) == (1, *size) and tuple(sample["label"].shape) == (3, *size)
    assert float(sample["image"].min()) >= -1024  # HU, padded with air


def test_train_on_synthetic_samples_alone(tmp_path):
    result = CliRunner().invoke(app, ["train", "sarcopenia", "--synthetic", "10", "--epochs", "1",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["samples"] == 10 and metrics["folds"][0]["validation_patients"][0].startswith("synthetic-")
    refused = CliRunner().invoke(app, ["train", "neonatal-rds", "--synthetic", "4", "--out", str(tmp_path / "x")])
    assert refused.exit_code != 0 and "no generator" in refused.output
