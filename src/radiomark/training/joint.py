"""Joint fine-tuning of the segmenter and the classifier (``train --stage joint``), as the seed
study joined its lung segmenter and RDS classifier.

The classifier must look at the ``masked`` lung crop: on the segmenter's network grid the image is
multiplied by the lung probability (the union of the lung channels), cropped to the box of
probabilities above 0.5 plus ``crop_margin`` and resized (bilinear) to the classifier's input, so
the classification loss reaches the segmenter's weights through the mask. A second term keeps the
lungs lungs: binary cross-entropy between the tuned segmenter's probabilities and those of the
segmenter before tuning, weighted by ``lung_weight`` (0 lets the mask drift wherever it helps
the classifier). Both networks start from the run folder's weights (a single-fold segmenter); the
epoch with the lowest validation (classification) loss replaces ``fold_0/best.pt`` and
``classifier/best.pt``, the
originals are kept as ``best.before_joint.pt``, ``joint.json`` records the history, and an ONNX
export of the folder (now stale) is removed.

Inference then crops and masks on the image grid with the thresholded mask; after tuning the lung
probabilities are close to 0 or 1, so the two views differ little.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radiomark.classification import CLASSIFIER_DIR, LabelledImage, split_samples
from radiomark.errors import InputError
from radiomark.inference.classifier import ImageClassifier
from radiomark.inference.onnx import RECORD
from radiomark.inference.predictor import Segmenter
from radiomark.inference.torch_network import TorchNetwork
from radiomark.io.study import read_study
from radiomark.metrics import classification_scores
from radiomark.recipes.schema import Classifier
from radiomark.training.checkpoint import save_checkpoint
from radiomark.training.loop import VALIDATION_LOSS, TrainingProgress, run_epochs
from radiomark.transforms.network_input import network_slice


def masked_views(images: torch.Tensor, lungs: torch.Tensor, spec: Classifier) -> torch.Tensor:
    """The classifier's differentiable view of network-grid ``images`` ``[B, 1, H, W]`` given the lung
    probability ``lungs`` ``[B, 1, H, W]``: masked, cropped to the lungs plus margin, resized."""
    views = []
    for image, lung in zip(images, lungs, strict=True):
        masked = image * lung
        inside = torch.nonzero(lung[0].detach() > 0.5)
        if len(inside):
            (top, left), (bottom, right) = inside.min(0).values.tolist(), inside.max(0).values.tolist()
            margin_rows = int(round(spec.crop_margin * (bottom - top + 1)))
            margin_columns = int(round(spec.crop_margin * (right - left + 1)))
            masked = masked[:, max(0, top - margin_rows):bottom + margin_rows + 1,
                            max(0, left - margin_columns):right + margin_columns + 1]
        views.append(F.interpolate(masked[None], size=spec.spatial_size, mode="bilinear", align_corners=False)[0])
    return torch.stack(views)


def train_joint(samples: Sequence[LabelledImage], run_dir: str | os.PathLike[str], *, epochs: int = 3,
                lung_weight: float = 1.0, progress: TrainingProgress | None = None) -> dict[str, Any]:
    """Fine-tune the segmenter and classifier of ``run_dir`` together on the class-folder ``samples``."""
    from monai.utils import set_determinism

    folder = Path(run_dir)
    segmenter, classifier = Segmenter.load(folder, backend="torch"), ImageClassifier.load(folder, backend="torch")
    spec = classifier.recipe.classifier
    assert spec is not None  # ImageClassifier.load checks
    if spec.input != "masked":
        raise InputError(folder / CLASSIFIER_DIR / "recipe.yaml", f"joint fine-tuning needs classifier input "
                         f"'masked' (the loss reaches the segmenter through the mask), not {spec.input!r}")
    if len(segmenter.networks) != 1:
        raise InputError(folder, f"joint fine-tuning needs a single-fold segmenter, found {len(segmenter.networks)}")
    labels, patients, train_index, validation_index = split_samples(samples, spec, folder)
    grids = []
    for index, sample in enumerate(samples):
        image = read_study(sample.path, segmenter.recipe).image
        grids.append(torch.from_numpy(network_slice(image, segmenter.recipe.preprocessing)[0]).half())
        if progress is not None:
            progress("preparing joint inputs", index + 1, len(samples))
    inputs, targets = torch.stack(grids), torch.as_tensor(labels, dtype=torch.float32)
    set_determinism(spec.seed)
    lung_net, class_net = segmenter.networks[0], classifier.network
    assert isinstance(lung_net, TorchNetwork) and isinstance(class_net, TorchNetwork)  # backend="torch"
    lung_net, class_net = lung_net.module, class_net.module
    teacher = copy.deepcopy(lung_net).eval()
    parameters = [*lung_net.parameters(), *class_net.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=spec.learning_rate / 10, weight_decay=spec.weight_decay)
    positives = max(1, int(labels[train_index].sum()))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(train_index) - positives) / positives))

    def forward(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probabilities = torch.sigmoid(lung_net(batch))
        lungs = probabilities.amax(1, keepdim=True)
        return class_net(masked_views(batch, lungs, spec))[:, 0], probabilities

    def validate() -> dict[str, Any]:
        lung_net.eval()
        class_net.eval()
        with torch.no_grad():
            logits = torch.cat([forward(inputs[validation_index[i:i + spec.batch_size]].float())[0]
                                for i in range(0, len(validation_index), spec.batch_size)])
        return {"validation_loss": float(loss_fn(logits, targets[validation_index])),
                "validation": classification_scores(labels[validation_index], torch.sigmoid(logits).numpy(),
                                                    spec.threshold)}

    def step(epoch: int) -> dict[str, Any]:
        lung_net.train()
        class_net.train()
        losses = []
        order = torch.as_tensor(train_index)[torch.randperm(len(train_index), generator=generator)]
        for start in range(0, len(order), spec.batch_size):
            batch = order[start:start + spec.batch_size]
            if len(batch) < 2:  # batch normalisation cannot train on a single image
                continue
            images = inputs[batch].float()
            optimizer.zero_grad()
            logits, probabilities = forward(images)
            loss = loss_fn(logits, targets[batch])
            if lung_weight > 0:
                with torch.no_grad():
                    reference = torch.sigmoid(teacher(images))
                loss = loss + lung_weight * F.binary_cross_entropy(probabilities, reference)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return {"train_loss": float(np.mean(losses)), **validate()}

    def save_best() -> None:
        save_checkpoint(lung_net.state_dict(), folder / "fold_0" / "best.pt")
        save_checkpoint(class_net.state_dict(), folder / CLASSIFIER_DIR / "best.pt")

    generator = torch.Generator().manual_seed(spec.seed)
    for original in (folder / "fold_0" / "best.pt", folder / CLASSIFIER_DIR / "best.pt"):
        backup = original.with_name("best.before_joint.pt")
        if not backup.exists():
            shutil.copy2(original, backup)
    history = run_epochs(None, epochs, [{"epoch": 0, "train_loss": None, **validate()}], step, VALIDATION_LOSS,
                         save_best, lambda r: f"joint epoch {r['epoch']}: loss {r['train_loss']:.3f}, val loss "
                                              f"{r['validation_loss']:.3f}, val AUC {r['validation']['roc_auc']:.3f}",
                         progress=progress)
    chosen = VALIDATION_LOSS.best(history)
    summary = {"epochs": epochs, "lung_weight": lung_weight, "best_epoch": chosen["epoch"],
               "validation": chosen["validation"], "before": history[0]["validation"], "history": history,
               "validation_patients": sorted({patients[i] for i in validation_index}),
               "selected_by": VALIDATION_LOSS.name,
               "note": "best epoch 0 means tuning did not lower the validation loss: weights unchanged"}
    (folder / "joint.json").write_text(json.dumps(summary, indent=2))
    if chosen["epoch"] > 0:  # the exported networks no longer match the weights
        (folder / RECORD).unlink(missing_ok=True)
        for stale in (folder / "fold_0" / "model.onnx", folder / CLASSIFIER_DIR / "model.onnx"):
            stale.unlink(missing_ok=True)
    return summary
