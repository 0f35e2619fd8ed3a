"""DDP training through torchrun: two processes on this machine end with identical weights and
train like one process of the same seed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import tiny_phantoms, tiny_recipe


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
    data = tiny_phantoms(tmp_path / "data", range(8))
    recipe = tiny_recipe(tmp_path)
    runs = {}
    for name, extra in (("one", []), ("two", ["--nproc-per-node", "2"])):
        done = subprocess.run([sys.executable, "-m", "radiomark", "train", str(recipe), "--data", str(data),
                               "--out", str(tmp_path / name), "--epochs", "3", *extra],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        runs[name] = json.loads((tmp_path / name / "metrics.json").read_text()), done.stdout
    (one, _), (two, printed) = runs["one"], runs["two"]
    assert two["distributed"] == {"world_size": 2, "ranks_identical": True}
    assert "distributed" not in one and printed.count("held-out") == 1  # the first process reports, once
    assert two["folds"][0]["validation_patients"] == one["folds"][0]["validation_patients"]
    for name, dice in one["mean_validation_dice"].items():  # the same effective batch; other sample order
        assert two["mean_validation_dice"][name] == pytest.approx(dice, abs=0.05), name
    losses = [[r["train_loss"] for r in json.loads((tmp_path / n / "fold_0" / "history.json").read_text())]
              for n in ("one", "two")]
    assert losses[1] == pytest.approx(losses[0], abs=0.02)


def test_launch_options_are_checked(tmp_path):
    from typer.testing import CliRunner

    from radiomark.cli import _without_launch_options, app

    assert _without_launch_options(["train", "x", "--nproc-per-node", "2", "--nnodes=1", "--out", "o"]) == [
        "train", "x", "--out", "o"]
    result = CliRunner().invoke(app, ["train", "neonatal-rds", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                                      "--stage", "classify", "--nproc-per-node", "2"])
    assert result.exit_code == 2 and "segmenter (stage segment) only" in result.output, result.output
    result = CliRunner().invoke(app, ["train", "sarcopenia", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                                      "--nnodes", "2"])
    assert result.exit_code == 2 and "--rdzv-endpoint" in result.output, result.output
