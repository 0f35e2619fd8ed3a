"""Training of the fusion model (``radiomark train disc-herniation --index --labels``).

Split: patients (never images) into train / validation / test by the recipe's fractions, stratified
by the patient's number of herniated levels (0, 1, 2, 3+; scikit-learn ``StratifiedGroupKFold``,
applied twice). The seed study pooled images 6:2:2, which can put one patient's levels on both
sides; this cannot. Each model (``fused``, and for the ablation ``image`` and ``tabular``) is
trained on the train patients, its epoch chosen on the validation patients by the lowest
validation loss (weighted BCE: ranking and calibration both count; choosing by ROC-AUC alone once
kept an epoch that ranked well, AUC 0.99, but whose probabilities sat below the 0.5 threshold,
sensitivity 0.17). The test patients are never seen and are what ``evaluate`` scores. Run folder:
``recipe.yaml``, ``split.json``, ``<mode>/best.pt``, ``<mode>/last.pt`` (resumable),
``<mode>/history.json``, ``metrics.json``, ``training_curve.png``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from radiomark.errors import InputError
from radiomark.herniation.network import MODES, FusionNet, Mode
from radiomark.herniation.recipe import HerniationRecipe
from radiomark.herniation.samples import Sample
from radiomark.metrics import classification_scores
from radiomark.training.checkpoint import resume_state, save_checkpoint, save_state
from radiomark.training.loop import VALIDATION_LOSS, TrainingProgress, run_epochs
from radiomark.training.splits import stratified_patient_split


def split_patients(samples: Sequence[Sample], recipe: HerniationRecipe) -> dict[str, list[str]]:
    """Patients of the train, validation and test sides (see the module docstring)."""
    patients = sorted({s.patient for s in samples})
    if len({s.label for s in samples}) < 2:
        raise InputError(None, "training needs images with and without a herniation")
    herniated = {p: 0 for p in patients}
    for sample in samples:
        herniated[sample.patient] += sample.label
    flags = [min(herniated[p], 3) for p in patients]  # strata: 0, 1, 2, 3 or more herniated levels
    _, validation_share, test_share = recipe.training.split
    try:
        rest, test = stratified_patient_split(patients, flags, test_share, recipe.training.seed)
        rest_patients = [patients[i] for i in rest]
        train, validation = stratified_patient_split(rest_patients, [flags[i] for i in rest],
                                                     validation_share / (1 - test_share), recipe.training.seed)
    except InputError as error:
        raise InputError(None, f"{len(patients)} patients are too few for a train / validation / test split "
                               f"({error.problem})") from None
    return {"train": sorted(rest_patients[i] for i in train),
            "validation": sorted(rest_patients[i] for i in validation),
            "test": sorted(patients[i] for i in test)}


def _augment(recipe: HerniationRecipe) -> Any:
    from monai.transforms import Compose, RandFlip, RandGaussianNoise, RandRotate

    spec = recipe.training
    return Compose([RandFlip(prob=spec.flip_probability, spatial_axis=1),
                    RandRotate(range_x=np.deg2rad(spec.rotate_degrees), prob=0.5, padding_mode="zeros"),
                    RandGaussianNoise(prob=0.5, std=spec.noise_std)])


def _logits(network: FusionNet, images: torch.Tensor, tabular: torch.Tensor, batch_size: int) -> torch.Tensor:
    network.eval()
    with torch.no_grad():
        return torch.cat([network(images[i:i + batch_size], tabular[i:i + batch_size])
                          for i in range(0, len(images), batch_size)])


def predict(network: FusionNet, images: torch.Tensor, tabular: torch.Tensor, batch_size: int) -> np.ndarray:
    """Probabilities of herniation, in batches, without gradients."""
    return torch.sigmoid(_logits(network, images, tabular, batch_size)).numpy()


def _train_mode(recipe: HerniationRecipe, mode: Mode, images: torch.Tensor, tabular: torch.Tensor,
                labels: np.ndarray, train: np.ndarray, validation: np.ndarray, folder: Path, epochs: int,
                progress: TrainingProgress | None) -> dict[str, Any]:
    from monai.utils import set_determinism

    spec = recipe.training
    folder.mkdir(parents=True, exist_ok=True)
    set_determinism(spec.seed)
    network = FusionNet(recipe.network, tabular.shape[1], mode)
    optimizer = torch.optim.AdamW(network.parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    positives = max(1, int(labels[train].sum()))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(train) - positives) / positives))
    targets = torch.as_tensor(labels, dtype=torch.float32)
    augment = _augment(recipe)
    augment.set_random_state(spec.seed)
    generator = torch.Generator().manual_seed(spec.seed)

    def step(epoch: int) -> dict[str, Any]:
        network.train()
        order = torch.as_tensor(train)[torch.randperm(len(train), generator=generator)]
        losses = []
        for first in range(0, len(order), spec.batch_size):
            batch = order[first:first + spec.batch_size].tolist()
            batch_images = (torch.stack([torch.as_tensor(augment(images[i])) for i in batch]) if mode != "tabular"
                            else images[batch])
            optimizer.zero_grad()
            loss = loss_fn(network(batch_images, tabular[batch]), targets[batch])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        logits = _logits(network, images[validation], tabular[validation], spec.batch_size)
        return {"train_loss": float(np.mean(losses)), "validation_loss": float(loss_fn(logits, targets[validation])),
                "validation": classification_scores(labels[validation], torch.sigmoid(logits).numpy(),
                                                     recipe.threshold)}

    history = run_epochs(folder / "history.json", epochs, resume_state(folder, network, optimizer, scheduler), step,
                         VALIDATION_LOSS, lambda: save_checkpoint(network.state_dict(), folder / "best.pt"),
                         lambda r: f"{mode} epoch {r['epoch']}: loss {r['train_loss']:.3f}, "
                                   f"val AUC {r['validation']['roc_auc']:.3f}",
                         save_state=lambda records: save_state(folder, network, optimizer, scheduler, records),
                         progress=progress)
    chosen = VALIDATION_LOSS.best(history)
    return {"best_epoch": chosen["epoch"], "validation_loss": chosen["validation_loss"],
            "validation": chosen["validation"],
            "training_seconds": sum(record["seconds"] for record in history)}


def _plot_curves(histories: dict[str, list[dict[str, Any]]], path: Path) -> None:
    from radiomark.outputs.figures import pyplot, save_png

    figure, (losses, aucs) = pyplot().subplots(1, 2, figsize=(9, 3.5))
    for mode, history in histories.items():
        epochs = [record["epoch"] for record in history]
        line, = losses.plot(epochs, [record["train_loss"] for record in history], label=f"{mode} train")
        losses.plot(epochs, [record["validation_loss"] for record in history], "--", color=line.get_color(),
                    label=f"{mode} validation")
        aucs.plot(epochs, [record["validation"]["roc_auc"] for record in history], label=mode)
    losses.set(xlabel="epoch", ylabel="loss (weighted BCE)")
    losses.legend(fontsize=7)
    aucs.set(xlabel="epoch", ylabel="validation ROC-AUC (held-out patients)", ylim=(0, 1.02))
    aucs.legend()
    save_png(figure, path)


def train_herniation(recipe: HerniationRecipe, samples: Sequence[Sample], images: np.ndarray,
                     out_dir: str | os.PathLike[str],
                     *, epochs: int | None = None, modes: Sequence[Mode] = MODES,
                     progress: TrainingProgress | None = None) -> dict[str, Any]:
    """Train ``modes`` on ``samples`` (with their ``images``) into ``out_dir``; returns metrics.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = out / "recipe.yaml"
    if written.is_file() and yaml.safe_load(written.read_text()) != recipe.model_dump(mode="json"):
        raise InputError(out, "holds a run of a different recipe; resume it with its own recipe.yaml or train "
                              "into a new --out folder")
    split_file = out / "split.json"
    split = json.loads(split_file.read_text()) if split_file.is_file() else split_patients(samples, recipe)
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    split_file.write_text(json.dumps(split, indent=1))
    patients = np.asarray([s.patient for s in samples])
    train = np.flatnonzero(np.isin(patients, split["train"]))
    validation = np.flatnonzero(np.isin(patients, split["validation"]))
    labels = np.asarray([s.label for s in samples])
    if len(set(labels[validation].tolist())) < 2:
        raise InputError(None, "the validation patients hold one class only; more patients are needed")
    image_tensor = torch.as_tensor(images)
    tabular = torch.as_tensor(np.stack([s.tabular for s in samples]))
    epochs = epochs or recipe.training.epochs
    models = {mode: _train_mode(recipe, mode, image_tensor, tabular, labels, train, validation, out / mode, epochs,
                                progress) for mode in modes}
    _plot_curves({mode: json.loads((out / mode / "history.json").read_text()) for mode in modes},
                 out / "training_curve.png")
    summary = {"recipe": recipe.name, "epochs": epochs, "samples": len(samples),
               "patients": {side: len(names) for side, names in split.items()},
               "images": {side: int(np.isin(patients, names).sum()) for side, names in split.items()},
               "models": models,
               "note": "validation figures are on held-out patients and chose the epoch; the test patients "
                       "(split.json) were never seen: `radiomark evaluate` scores them"}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2))
    return summary
