"""Held-out evaluation of a disc-herniation run (``radiomark evaluate disc-herniation``).

Scores every model of the run (``fused`` and the ablation's ``image`` and ``tabular``) on the
samples whose patients the run never trained or validated on (``split.json``): accuracy, F1,
sensitivity, specificity and ROC-AUC with 95 % confidence intervals from a bootstrap over
patients (a patient's levels are resampled together), the Brier score and a calibration curve.
Writes ``evaluation.json``, ``per_image.csv``, ``roc.png`` and ``calibration.png``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiomark.errors import InputError
from radiomark.herniation.network import MODES, FusionNet
from radiomark.herniation.recipe import HerniationRecipe
from radiomark.herniation.samples import Sample
from radiomark.herniation.training import predict
from radiomark.io.atomic import atomic_file
from radiomark.io.tables import write_csv
from radiomark.metrics import classification_scores
from radiomark.outputs.figures import pyplot, save_png

_SCORES = ("accuracy", "f1", "sensitivity", "specificity", "roc_auc")


def load_model(run_dir: Path, recipe: HerniationRecipe, mode: str, columns: int) -> FusionNet:
    """The ``mode`` model of a run (its best epoch)."""
    weights = run_dir / mode / "best.pt"
    if not weights.is_file():
        raise InputError(run_dir, f"no {mode} model (missing {mode}/best.pt); is this a disc-herniation run folder?")
    network = FusionNet(recipe.network, columns, mode)  # type: ignore[arg-type]
    network.load_state_dict(torch.load(weights, weights_only=True))
    return network


def bootstrap_intervals(truth: np.ndarray, probability: np.ndarray, patients: Sequence[str], threshold: float,
                        resamples: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of the scores, resampling patients with replacement."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(patients)
    names = np.unique(groups)
    members = {name: np.flatnonzero(groups == name) for name in names}
    draws: dict[str, list[float]] = {name: [] for name in _SCORES}
    for _ in range(resamples):
        index = np.concatenate([members[name] for name in rng.choice(names, names.size, replace=True)])
        if np.unique(truth[index]).size < 2:
            continue
        scores = classification_scores(truth[index], probability[index], threshold)
        for name in _SCORES:
            draws[name].append(scores[name])
    return {name: (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
            for name, values in draws.items() if values}


def _plots(truth: np.ndarray, probabilities: Mapping[str, np.ndarray], scores: Mapping[str, Mapping[str, Any]],
           out: Path,
           title: str) -> None:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    figure, axis = pyplot().subplots(figsize=(5, 5))
    for mode, probability in probabilities.items():
        false_positive, true_positive, _ = roc_curve(truth, probability)
        low, high = scores[mode]["ci95"]["roc_auc"]
        axis.plot(false_positive, true_positive, label=f"{mode}: AUC {scores[mode]['roc_auc']:.3f} "
                                                      f"({low:.2f}–{high:.2f})")
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set(xlabel="1 − specificity", ylabel="sensitivity", title=title, xlim=(0, 1), ylim=(0, 1.01))
    axis.legend(loc="lower right", fontsize=8)
    save_png(figure, out / "roc.png")
    figure, axis = pyplot().subplots(figsize=(5, 5))
    for mode, probability in probabilities.items():
        observed, predicted = calibration_curve(truth, probability, n_bins=5, strategy="quantile")
        axis.plot(predicted, observed, "o-", label=f"{mode}: Brier {scores[mode]['brier']:.3f}")
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set(xlabel="predicted probability", ylabel="observed fraction herniated", title=title, xlim=(0, 1),
             ylim=(0, 1))
    axis.legend(loc="upper left", fontsize=8)
    save_png(figure, out / "calibration.png")


def held_out_samples(run_dir: str | os.PathLike[str], samples: Sequence[Sample]) -> tuple[list[Sample], int]:
    """The ``samples`` of patients the run never trained or validated on (its ``split.json``), and
    how many patients were left out for having been seen."""
    run = Path(run_dir)
    split = json.loads((run / "split.json").read_text()) if (run / "split.json").is_file() else {}
    seen = set(split.get("train", [])) | set(split.get("validation", []))
    held = [s for s in samples if s.patient not in seen]
    if not held:
        raise InputError(run, "every patient of these data was used in training or validation: nothing is held out")
    return held, len({s.patient for s in samples} & seen)


def evaluate_herniation(run_dir: str | os.PathLike[str], recipe: HerniationRecipe, held: Sequence[Sample],
                        images: np.ndarray,
                        out_dir: str | os.PathLike[str], data_kind: str, excluded_patients: int) -> dict[str, Any]:
    """Scores of every model in ``run_dir`` on the held-out samples ``held`` (from
    :func:`held_out_samples`) and their ``images`` (see the module docstring)."""
    run = Path(run_dir)
    truth = np.asarray([s.label for s in held])
    if np.unique(truth).size < 2:
        raise InputError(None, f"the {len(held)} held-out images hold one class only; ROC-AUC needs both")
    image_tensor = torch.as_tensor(images)
    tabular = torch.as_tensor(np.stack([s.tabular for s in held]))
    modes = [mode for mode in MODES if (run / mode / "best.pt").is_file()]
    if not modes:
        raise InputError(run, "no trained model here (expected fused/best.pt); is this a disc-herniation run?")
    probabilities: dict[str, np.ndarray] = {}
    scores: dict[str, dict[str, Any]] = {}
    patients = [s.patient for s in held]
    from sklearn.metrics import brier_score_loss

    for mode in modes:
        network = load_model(run, recipe, mode, tabular.shape[1])
        probability = predict(network, image_tensor, tabular, recipe.training.batch_size)
        probabilities[mode] = probability
        scores[mode] = {**classification_scores(truth, probability, recipe.threshold),
                        "brier": float(brier_score_loss(truth, probability)),
                        "ci95": bootstrap_intervals(truth, probability, patients, recipe.threshold,
                                                    recipe.bootstrap)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"recipe": recipe.name, "model": str(run), "data_kind": data_kind, "images": len(held),
               "patients": len(set(patients)), "excluded_seen_patients": excluded_patients,
               "positives": int(truth.sum()), "threshold": recipe.threshold, "bootstrap": recipe.bootstrap,
               "models": scores,
               "note": "95 % CIs: percentile bootstrap over patients; ablation: image = image branch only, "
                       "tabular = clinical MLP only, fused = both (the study's model)"}
    title = f"{len(held)} images, {len(set(patients))} held-out patients ({data_kind})"
    _plots(truth, probabilities, scores, out, title)
    write_csv([{"patient": s.patient, "disc_level": s.level, "image": str(s.path), "truth": s.label,
                **{f"probability_{mode}": float(probabilities[mode][i]) for mode in modes}}
               for i, s in enumerate(held)], out / "per_image.csv")
    with atomic_file(out / "evaluation.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2))
    return summary
