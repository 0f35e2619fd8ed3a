"""Training on tiny phantoms: the loss falls, splits keep patients apart, runs resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radiomark import api
from radiomark.errors import InputError
from radiomark.recipes import load_recipe
from radiomark.training.data import load_cases
from radiomark.training.splits import patient_splits
from tests.helpers import tiny_phantoms, tiny_recipe


def test_splits_never_share_a_patient():
    patients = [f"p{i // 3}" for i in range(30)]  # 10 patients, 3 images each
    for folds in (1, 5):
        for train, valid in patient_splits(patients, folds, 0.2, seed=1):
            assert not {patients[i] for i in train} & {patients[i] for i in valid}
            assert len(train) + len(valid) == 30
    with pytest.raises(InputError, match="1 patient\\(s\\) cannot be split into 2 groups"):
        patient_splits(["a", "a"], 1, 0.2, seed=0)


def test_volume_cases_give_one_sample_per_labelled_slice_of_one_patient(tmp_path):
    recipe = load_recipe("sarcopenia")
    tiny_phantoms(tmp_path / "data", range(2), fmt="dicom")
    cases = load_cases(tmp_path / "data", recipe)
    assert [c.patient_id for c in cases] == ["PHANTOM-sarcopenia-0000", "PHANTOM-sarcopenia-0001"]
    assert cases[0].clinical["sex"] in ("M", "F") and cases[0].image.ndim == 2


@pytest.mark.slow
def test_training_lowers_the_loss_writes_its_records_and_resumes(tmp_path):
    recipe = tiny_recipe(tmp_path)
    tiny_phantoms(tmp_path / "data", range(8))
    summary = api.train(str(recipe), tmp_path / "data", tmp_path / "run", epochs=3)
    history = json.loads((tmp_path / "run" / "fold_0" / "history.json").read_text())
    losses = [epoch["train_loss"] for epoch in history]
    assert losses[-1] < losses[0]
    assert set(summary["mean_validation_dice"]) == {"skeletal_muscle", "subcutaneous_fat", "visceral_fat"}
    fold = summary["folds"][0]
    assert not set(fold["train_patients"]) & set(fold["validation_patients"])
    for name in ("metrics.json", "training_curve.png", "recipe.yaml", "fold_0/best.pt", "fold_0/last.pt"):
        assert (tmp_path / "run" / name).is_file(), name
    assert any((tmp_path / "run" / "fold_0" / "tensorboard").iterdir())
    api.train(str(recipe), tmp_path / "data", tmp_path / "run", epochs=4)  # resumes after epoch 3
    history = json.loads((tmp_path / "run" / "fold_0" / "history.json").read_text())
    assert [epoch["epoch"] for epoch in history] == [1, 2, 3, 4]
    assert np.isclose(history[0]["train_loss"], losses[0])


def test_flexible_unet_with_an_efficientnet_encoder_is_a_recipe_option(tmp_path):
    import torch
    import yaml

    from radiomark.models.factory import build_network

    document = yaml.safe_load(tiny_recipe(tmp_path).read_text())
    document["network"] = {"name": "flexible_unet", "backbone": "efficientnet-b0"}
    path = tmp_path / "flexible.yaml"
    path.write_text(yaml.safe_dump(document))
    network = build_network(load_recipe(path))
    assert type(network).__name__ == "FlexibleUNet"
    with torch.no_grad():
        assert network(torch.zeros(1, 1, 64, 64)).shape == (1, 3, 64, 64)


def test_validation_every_few_epochs_and_fixed_validation_patients(tmp_path):
    import yaml

    document = yaml.safe_load(tiny_recipe(tmp_path).read_text())
    document["training"]["validation_interval"] = 2
    recipe = tmp_path / "every-second.yaml"
    recipe.write_text(yaml.safe_dump(document))
    tiny_phantoms(tmp_path / "data", range(5))
    summary = api.train(str(recipe), tmp_path / "data", tmp_path / "run", epochs=3,
                        validation_patients=("sarcopenia-0004",))
    history = json.loads((tmp_path / "run" / "fold_0" / "history.json").read_text())
    assert [bool(epoch["dice"]) for epoch in history] == [False, True, True]  # epochs 2 and 3 (the last)
    assert history[0]["validation_loss"] is None
    assert summary["folds"][0]["validation_patients"] == ["sarcopenia-0004"]
    assert summary["folds"][0]["best_epoch"] in (2, 3) and (tmp_path / "run" / "training_curve.png").is_file()
    with pytest.raises(InputError, match=r"validation patients \['nobody'\] are not in the data"):
        api.train(str(recipe), tmp_path / "data", tmp_path / "run2", validation_patients=("nobody",))
