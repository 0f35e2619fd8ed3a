"""The one epoch loop: which epoch is kept, when best.pt is saved, resuming, the history file."""

from __future__ import annotations

import json

import pytest

from radiomark.training.loop import VALIDATION_LOSS, Selection, run_epochs


def test_the_loop_keeps_the_best_epoch_by_the_named_metric_and_resumes(tmp_path):
    losses = {1: 0.9, 2: 0.5, 3: 0.7, 4: 0.5, 5: 0.4}
    saved, shown = [], []

    def step(epoch):
        return {"train_loss": 1.0 / epoch, "validation_loss": losses[epoch]}

    history = run_epochs(tmp_path / "history.json", 3, [], step, VALIDATION_LOSS, lambda: saved.append(len(saved)),
                         lambda record: f"epoch {record['epoch']}",
                         progress=lambda text, done, total: shown.append((text, done, total)))
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert len(saved) == 2  # epochs 1 and 2 improved, 3 did not
    assert shown[-1] == ("epoch 3", 3, 3) and all(record["seconds"] >= 0 for record in history)
    assert json.loads((tmp_path / "history.json").read_text()) == history
    resumed = run_epochs(tmp_path / "history.json", 5, history, step, VALIDATION_LOSS, lambda: saved.append(-1),
                         lambda record: "")
    assert [record["epoch"] for record in resumed] == [1, 2, 3, 4, 5]
    assert saved[2:] == [-1]  # the tie at epoch 4 keeps epoch 2; epoch 5 beats it
    assert VALIDATION_LOSS.best(resumed)["epoch"] == 5
    assert VALIDATION_LOSS.best(resumed[:4])["epoch"] == 2


def test_a_selection_ignores_unscored_epochs_and_can_prefer_the_highest():
    dice = Selection("dice", lambda record: record.get("dice"), higher_is_better=True)
    history = [{"epoch": 1, "dice": None}, {"epoch": 2, "dice": 0.0}, {"epoch": 3, "dice": 0.8},
               {"epoch": 4, "dice": 0.8}]
    assert dice.best(history)["epoch"] == 3
    assert dice.best(history[:2])["epoch"] == 2  # a score of 0 is a score
    with pytest.raises(ValueError, match="no epoch has a dice"):
        dice.best(history[:1])
    saved = []
    run_epochs(None, 2, history[:1], lambda epoch: {"dice": 0.0}, dice, lambda: saved.append(1), lambda r: "")
    assert saved == [1]  # epoch 2 scores 0.0, which beats nothing scored before
