"""Training of the recipe's image-level classifier (``train --stage classify``).

Writes ``<run>/classifier/``: ``recipe.yaml`` (the recipe as trained: classes, input, size),
``best.pt`` (weights of the epoch with the lowest validation loss; choosing by ROC-AUC kept
epochs whose probabilities were badly calibrated at the threshold), ``last.pt`` (everything needed
to resume), ``history.json``, ``metrics.json`` (validation accuracy, F1, ROC-AUC, the patients on
each side) and TensorBoard logs. The split is grouped by patient and stratified by class;
validation figures are on held-out patients only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from radiomark.classification import CLASSIFIER_DIR, LabelledImage, classifier_input, split_samples
from radiomark.errors import InputError
from radiomark.inference.predictor import Segmenter
from radiomark.io.study import read_study
from radiomark.metrics import classification_scores
from radiomark.models.factory import build_classifier
from radiomark.recipes.schema import Recipe
from radiomark.training.checkpoint import resume_state, save_checkpoint, save_state
from radiomark.training.loop import VALIDATION_LOSS, TrainingProgress, run_epochs


def prepare_inputs(recipe: Recipe, samples: Sequence[LabelledImage], segmenter: Segmenter | None,
                   progress: TrainingProgress | None = None) -> torch.Tensor:
    """Classifier inputs ``[N, 1, rows, columns]`` of ``samples`` (segmenting first when the
    recipe's classifier looks at a crop)."""
    inputs = []
    for index, sample in enumerate(samples):
        image = read_study(sample.path, recipe).image
        structures = segmenter.predict(image) if segmenter is not None else None
        inputs.append(torch.from_numpy(classifier_input(image, structures, recipe)))
        if progress is not None:
            progress("preparing classifier inputs", index + 1, len(samples))
    return torch.stack(inputs)


def _augment(recipe: Recipe) -> Any:
    from monai.transforms import Compose, RandFlip

    probability = recipe.classifier.flip_probability if recipe.classifier else 0.0
    return Compose([RandFlip(prob=probability, spatial_axis=0), RandFlip(prob=probability, spatial_axis=1)])


def predict_logits(network: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                   batch_size: int) -> torch.Tensor:
    """Logits of ``inputs`` in batches, without gradients (a PyTorch module in eval mode, or an
    ONNX Runtime network)."""
    if isinstance(network, torch.nn.Module):
        network.eval()
    with torch.no_grad():
        return torch.cat([network(inputs[i:i + batch_size])[:, 0] for i in range(0, len(inputs), batch_size)])


def train_classifier(recipe: Recipe, samples: Sequence[LabelledImage], inputs: torch.Tensor,
                     out_dir: str | os.PathLike[str],
                     *, epochs: int | None = None, progress: TrainingProgress | None = None) -> dict[str, Any]:
    """Train the recipe's classifier on prepared ``inputs`` into ``out_dir/classifier`` (resumable)."""
    from monai.utils import set_determinism
    from torch.utils.tensorboard import SummaryWriter

    spec = recipe.classifier
    if spec is None:
        raise InputError(None, f"recipe {recipe.name} has no classifier")
    labels, patients, train_index, validation_index = split_samples(samples, spec, out_dir)
    out = Path(out_dir)
    folder = out / CLASSIFIER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    epochs = epochs or spec.epochs
    set_determinism(spec.seed)
    network = build_classifier(spec)
    optimizer = torch.optim.AdamW(network.parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    positives = max(1, int(labels[train_index].sum()))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(train_index) - positives) / positives))
    targets = torch.as_tensor(labels, dtype=torch.float32)
    augment = _augment(recipe)
    augment.set_random_state(spec.seed)
    generator = torch.Generator().manual_seed(spec.seed)

    def step(epoch: int) -> dict[str, Any]:
        network.train()
        order = torch.as_tensor(train_index)[torch.randperm(len(train_index), generator=generator)]
        losses = []
        for start in range(0, len(order), spec.batch_size):
            batch = order[start:start + spec.batch_size]
            if len(batch) < 2:  # batch normalisation cannot train on a single image
                continue
            images = torch.stack([torch.as_tensor(augment(inputs[i])) for i in batch.tolist()])
            optimizer.zero_grad()
            loss = loss_fn(network(images)[:, 0], targets[batch])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        logits = predict_logits(network, inputs[validation_index], spec.batch_size)
        validation_loss = float(loss_fn(logits, targets[validation_index]))
        return {"train_loss": float(np.mean(losses)), "validation_loss": validation_loss,
                "scores": classification_scores(labels[validation_index], torch.sigmoid(logits).numpy(),
                                                spec.threshold)}

    with SummaryWriter(str(folder / "tensorboard")) as writer:

        def log(record: dict[str, Any]) -> None:
            writer.add_scalars("loss", {"train": record["train_loss"], "validation": record["validation_loss"]},
                               record["epoch"])
            writer.add_scalars("validation", record["scores"], record["epoch"])

        history = run_epochs(
            folder / "history.json", epochs, resume_state(folder, network, optimizer, scheduler), step, VALIDATION_LOSS,
            lambda: save_checkpoint(network.state_dict(), folder / "best.pt"),
            lambda r: f"classifier epoch {r['epoch']}: loss {r['train_loss']:.3f}, val loss "
                      f"{r['validation_loss']:.3f}, val AUC {r['scores']['roc_auc']:.3f}",
            save_state=lambda records: save_state(folder, network, optimizer, scheduler, records), after_epoch=log,
            progress=progress)
    chosen = VALIDATION_LOSS.best(history)
    summary = {"recipe": recipe.name, "classes": list(spec.classes), "epochs": epochs, "best_epoch": chosen["epoch"],
               "selected_by": VALIDATION_LOSS.name, "validation": chosen["scores"], "samples": len(samples),
               "patients": len(set(patients)),
               "train_patients": sorted({patients[i] for i in train_index}),
               "validation_patients": sorted({patients[i] for i in validation_index}),
               "note": "validation figures are on held-out patients; the best epoch was chosen on them"}
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2))
    return summary
