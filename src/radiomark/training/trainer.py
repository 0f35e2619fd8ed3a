"""The training loop shared by the segmentation recipes, 2D and 3D.

A run folder holds ``recipe.yaml`` (the recipe as trained; for 3D recipes completed by
:mod:`radiomark.training.plan`, whose derivation is in ``plan.json``), one ``fold_<k>/`` per fold
with ``best.pt`` (weights of the epoch with the best mean validation Dice), ``last.pt``
(everything needed to resume), ``history.json`` and TensorBoard logs, and at the top
``metrics.json`` and ``training_curve.png``. Splits are by patient; validation figures are on
held-out patients only. 2D recipes train on whole slices on the network grid; 3D recipes on
random patches (a share centred on labelled voxels) and validate whole volumes by sliding-window
inference on the network grid.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from radiomark.errors import InputError
from radiomark.models.factory import build_network
from radiomark.recipes.schema import Recipe
from radiomark.training import distributed
from radiomark.training.checkpoint import resume_state, save_checkpoint, save_state
from radiomark.training.data import Case, to_network_input
from radiomark.training.loop import Selection, TrainingProgress, run_epochs
from radiomark.training.losses import DiceBCELoss
from radiomark.training.splits import patient_splits


@dataclass(frozen=True)
class EpochRecord:
    """Losses and per-structure validation Dice / IoU (on the network grid) of one epoch; an epoch
    that was not validated (see ``training.validation_interval``) has no validation loss and
    empty Dice / IoU."""

    epoch: int
    train_loss: float
    validation_loss: float | None
    dice: dict[str, float]
    iou: dict[str, float]
    seconds: float = 0.0  # wall-clock time of the epoch, validation included

    @property
    def mean_dice(self) -> float:
        """Mean validation Dice over the structures; -1 for an epoch that was not validated."""
        return float(np.mean(list(self.dice.values()))) if self.dice else -1.0


#: The segmenter keeps the epoch with the best mean validation Dice over the structures.
MEAN_DICE = Selection("mean_validation_dice",
                      lambda record: EpochRecord(**record).mean_dice if record["dice"] else None,
                      higher_is_better=True)


def _fixed_intensity(recipe: Recipe) -> Any:
    """The inference-time intensity mapping of a training sample (identity for percentile recipes,
    whose samples were scaled to [0, 1] in :func:`to_network_input`)."""
    from monai.transforms import Compose, ScaleIntensityRanged

    window = recipe.preprocessing.window
    if window is None:
        return Compose([])
    return ScaleIntensityRanged(["image"], a_min=window.level - window.width / 2,
                                a_max=window.level + window.width / 2, b_min=0.0, b_max=1.0, clip=True)


def _volume_transforms(recipe: Recipe) -> Any:
    """3D training augmentation: pad to the patch, random patches, left–right flip with side swap,
    rotation / scaling, gamma, noise (MONAI)."""
    from monai.transforms import (
        Compose,
        RandAdjustContrastd,
        RandAffined,
        RandCropByPosNegLabeld,
        RandGaussianNoised,
        SpatialPadd,
    )

    from radiomark.transforms.sides import RandFlipSidesd, side_swap
    from radiomark.transforms.volume import LEFT_RIGHT_AXIS

    augment, training = recipe.augmentation, recipe.training
    patch = recipe.preprocessing.patch()
    names = [recipe.labels[value] for value in sorted(recipe.labels)]
    foreground = training.foreground_patch_fraction
    angle = math.radians(augment.rotate_degrees)
    steps: list[Any] = [
        SpatialPadd(["image", "label"], patch),
        RandCropByPosNegLabeld(["image", "label"], "label", patch, pos=foreground, neg=1 - foreground,
                               num_samples=training.patches_per_volume),
        RandFlipSidesd(["image", "label"], "label", side_swap(names), LEFT_RIGHT_AXIS, augment.flip_probability),
        RandAffined(["image", "label"], prob=0.5, rotate_range=(angle, angle, angle), scale_range=augment.scale,
                    mode=("bilinear", "nearest"), padding_mode="zeros")]
    if augment.gamma is not None:
        steps.append(RandAdjustContrastd(["image"], prob=0.5, gamma=augment.gamma))
    steps.append(RandGaussianNoised(["image"], prob=0.5, std=augment.noise_std))
    return Compose(steps)


def _transforms(recipe: Recipe, train: bool) -> Any:
    from monai.transforms import Compose, RandAdjustContrastd, RandAffined, RandFlipd, RandGaussianNoised

    from radiomark.transforms.random_window import RandomWindowd

    if recipe.preprocessing.spatial_dims == 3:
        return _volume_transforms(recipe) if train else Compose([])
    if not train:
        return _fixed_intensity(recipe)
    augment, window = recipe.augmentation, recipe.preprocessing.window
    steps: list[Any] = []
    if augment.random_window is not None and window is not None:
        steps.append(RandomWindowd(["image"], augment.random_window.level, augment.random_window.width,
                                   (window.level, window.width), prob=augment.random_window.probability))
    else:
        steps.append(_fixed_intensity(recipe))
    if augment.gamma is not None:
        steps.append(RandAdjustContrastd(["image"], prob=0.5, gamma=augment.gamma))
    if augment.radiograph:
        from radiomark.transforms.radiograph_corruptions import RandChestFilmd

        steps.append(RandChestFilmd(augment.radiograph))
    steps += [RandFlipd(["image", "label"], prob=augment.flip_probability, spatial_axis=1),
              RandFlipd(["image", "label"], prob=augment.flip_probability / 2, spatial_axis=0),  # prone scans
              RandAffined(["image", "label"], prob=0.8, rotate_range=math.radians(augment.rotate_degrees),
                          scale_range=augment.scale, mode=("bilinear", "nearest"), padding_mode="zeros"),
              RandGaussianNoised(["image"], prob=0.5, std=augment.noise_std)]
    return Compose(steps)


def _loader(samples: list[dict[str, torch.Tensor]], recipe: Recipe, train: bool, seed: int) -> Any:
    """Batches of ``samples`` (training: shuffled with ``seed``; under DDP this process's share,
    ``batch_size / processes`` at a time, see :mod:`radiomark.training.distributed`)."""
    from monai.data import DataLoader, Dataset

    dataset = Dataset(samples, transform=_transforms(recipe, train))
    generator = torch.Generator().manual_seed(seed)
    # 3D validation runs on whole volumes of different sizes: one at a time.
    batch_size = 1 if recipe.preprocessing.spatial_dims == 3 and not train else recipe.training.batch_size
    sampler = distributed.shard(dataset, seed) if train else None
    if sampler is not None:
        return DataLoader(dataset, batch_size=max(1, batch_size // distributed.world_size()), sampler=sampler,
                          num_workers=0)
    return DataLoader(dataset, batch_size=batch_size, shuffle=train, num_workers=0, generator=generator)


def whole_image_logits(network: torch.nn.Module, recipe: Recipe, images: torch.Tensor) -> torch.Tensor:
    """Logits of a validation batch on the network grid: the network on the whole image (2D), or
    MONAI sliding-window inference over the recipe's patches with Gaussian weighting (3D; inference
    uses the NumPy copy of that arithmetic in :mod:`radiomark.inference.sliding_window`)."""
    spec = recipe.preprocessing
    if spec.spatial_dims == 2:
        return network(images)
    from monai.inferers import sliding_window_inference

    return torch.as_tensor(sliding_window_inference(images, spec.patch(), sw_batch_size=2, predictor=network,
                                                    overlap=spec.sliding_window_overlap, mode="gaussian"))


def _validate(model: torch.nn.Module, loader: Any, loss_fn: torch.nn.Module, recipe: Recipe,
              names: Sequence[str]) -> tuple[float, dict[str, float], dict[str, float]]:
    from monai.metrics import DiceMetric, MeanIoU

    dice, iou = DiceMetric(reduction="mean_batch", ignore_empty=False), MeanIoU(reduction="mean_batch",
                                                                                 ignore_empty=False)
    losses = []
    model.eval()
    with torch.no_grad():
        for batch in loader:
            logits = whole_image_logits(model, recipe, batch["image"])
            losses.append(float(loss_fn(logits, batch["label"])))
            predicted = (torch.sigmoid(logits) > 0.5).float()
            dice(predicted, batch["label"])
            iou(predicted, batch["label"])
    per_dice, per_iou = torch.as_tensor(dice.aggregate()).tolist(), torch.as_tensor(iou.aggregate()).tolist()
    return float(np.mean(losses)), dict(zip(names, per_dice, strict=True)), dict(zip(names, per_iou, strict=True))


def train_fold(recipe: Recipe, train_samples: list[dict[str, torch.Tensor]],
               validation_samples: list[dict[str, torch.Tensor]], fold_dir: Path, epochs: int,
               progress: TrainingProgress | None = None) -> tuple[list[EpochRecord], bool]:
    """Train one fold into ``fold_dir``, resuming from ``last.pt`` when it exists; returns its
    history and whether every DDP process ended with the same weights (True on one process)."""
    from monai.utils import set_determinism
    from torch.utils.tensorboard import SummaryWriter

    fold_dir.mkdir(parents=True, exist_ok=True)
    seed = recipe.training.seed
    set_determinism(seed)
    names = [recipe.labels[value] for value in sorted(recipe.labels)]
    model = build_network(recipe)
    trained = distributed.wrap(model)  # DDP under torchrun; ``model`` itself otherwise
    main = distributed.is_main()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.training.learning_rate,
                                  weight_decay=recipe.training.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = DiceBCELoss(recipe.loss, recipe.preprocessing.spatial_dims)
    validation = _loader(validation_samples, recipe, train=False, seed=seed)

    def step(epoch: int) -> dict[str, Any]:
        model.train()
        losses = []
        for batch in _loader(train_samples, recipe, train=True, seed=seed + epoch):
            optimizer.zero_grad()
            loss = loss_fn(trained(batch["image"]), batch["label"])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        if epoch % recipe.training.validation_interval == 0 or epoch == epochs:
            validation_loss, dice, iou = _validate(model, validation, loss_fn, recipe, names)
            return {"train_loss": float(np.mean(losses)), "validation_loss": validation_loss, "dice": dice, "iou": iou}
        return {"train_loss": float(np.mean(losses)), "validation_loss": None, "dice": {}, "iou": {}}

    def describe(record: dict[str, Any]) -> str:
        validated = f", val Dice {EpochRecord(**record).mean_dice:.3f}" if record["dice"] else ""
        return f"{fold_dir.name} epoch {record['epoch']}: loss {record['train_loss']:.3f}{validated}"

    with SummaryWriter(str(fold_dir / "tensorboard")) if main else nullcontext() as writer:

        def log(record: dict[str, Any]) -> None:
            if record["dice"] and writer is not None:
                epoch = record["epoch"]
                writer.add_scalars("loss", {"train": record["train_loss"],
                                            "validation": record["validation_loss"]}, epoch)
                for name in names:
                    writer.add_scalars(f"validation/{name}", {"dice": record["dice"][name],
                                                              "iou": record["iou"][name]}, epoch)

        history = run_epochs(fold_dir / "history.json" if main else None, epochs,
                             resume_state(fold_dir, model, optimizer, scheduler), step, MEAN_DICE,
                             lambda: save_checkpoint(model.state_dict(), fold_dir / "best.pt") if main else None,
                             describe,
                             save_state=(lambda records: save_state(fold_dir, model, optimizer, scheduler, records))
                             if main else None,
                             after_epoch=log, progress=progress if main else None)
    return [EpochRecord(**record) for record in history], distributed.ranks_identical(model)


def _plot_curves(histories: Sequence[list[EpochRecord]], path: Path) -> None:
    from radiomark.outputs.figures import pyplot, save_png

    figure, (losses, dices) = pyplot().subplots(1, 2, figsize=(10, 4))
    for fold, history in enumerate(histories):
        validated = [r for r in history if r.dice]
        losses.plot([r.epoch for r in history], [r.train_loss for r in history], label=f"fold {fold} train")
        losses.plot([r.epoch for r in validated], [r.validation_loss for r in validated], "--",
                    label=f"fold {fold} validation")
        for name in validated[0].dice:
            dices.plot([r.epoch for r in validated], [r.dice[name] for r in validated], label=f"fold {fold} {name}")
    losses.set(xlabel="epoch", ylabel="Dice + BCE loss", title="Loss")
    dices.set(xlabel="epoch", ylabel="validation Dice", title="Validation Dice (held-out patients)", ylim=(0, 1))
    losses.legend(fontsize=7)
    dices.legend(fontsize=7)
    save_png(figure, path)


def train(recipe: Recipe, cases: Sequence[Case], out_dir: str | os.PathLike[str], *, epochs: int | None = None,
          folds: int = 1, validation_patients: Sequence[str] = (), progress: TrainingProgress | None = None,
          synthetic: Sequence[dict[str, torch.Tensor]] = ()) -> dict[str, Any]:
    """Train ``recipe`` on ``cases`` into ``out_dir`` (resumable); returns the metrics summary.
    ``validation_patients`` fixes the validation split (see :func:`patient_splits`).
    ``synthetic``: further network samples made by the recipe's generator, each its own patient
    (``synthetic-<k>``), trained and validated with the cases."""
    if not cases and not synthetic:
        raise InputError(out_dir, "no training cases")
    from radiomark.training.plan import plan

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    epochs = epochs or recipe.training.epochs
    recipe, record = plan(recipe, [case.image for case in cases])
    if distributed.is_main():  # under torchrun the first process writes
        if record:
            (out / "plan.json").write_text(json.dumps(record, indent=2))
        (out / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    samples = [to_network_input(case, recipe) for case in cases]
    return train_samples(recipe, [*samples, *synthetic], [*(case.patient_id for case in cases),
                                                          *(f"synthetic-{k}" for k in range(len(synthetic)))],
                         out, epochs, folds, validation_patients, progress)


def train_samples(recipe: Recipe, samples: Sequence[dict[str, torch.Tensor]], patients: Sequence[str], out: Path,
                  epochs: int, folds: int = 1, validation_patients: Sequence[str] = (),
                  progress: TrainingProgress | None = None) -> dict[str, Any]:
    """Train on network samples (:func:`to_network_input`) of the given patients into ``out``,
    which already holds the recipe as trained; returns the metrics summary."""
    histories: list[Any] = []
    summary_folds: list[dict[str, Any]] = []
    ranks_identical = True
    for fold, (train_index, validation_index) in enumerate(
            patient_splits(patients, folds, recipe.training.validation_fraction, recipe.training.seed,
                           validation_patients)):
        with distributed.process_group():
            history, identical = train_fold(recipe, [samples[i] for i in train_index],
                                            [samples[i] for i in validation_index], out / f"fold_{fold}", epochs,
                                            progress)
        ranks_identical = ranks_identical and identical
        histories.append(history)
        best = EpochRecord(**MEAN_DICE.best([asdict(r) for r in history]))
        foreground = float(np.mean([float(samples[i]["label"].sum()) / samples[i]["label"][0].numel()
                                    for i in train_index]))
        summary_folds.append({"fold": fold, "best_epoch": best.epoch, "validation_dice": best.dice,
                              "training_seconds": float(sum(r.seconds for r in history)),
                              "train_foreground_fraction": foreground,
                              "validation_iou": best.iou,
                              "train_patients": sorted({patients[i] for i in train_index}),
                              "validation_patients": sorted({patients[i] for i in validation_index})})
    names = list(summary_folds[0]["validation_dice"])
    summary = {"recipe": recipe.name, "epochs": epochs, "folds": summary_folds, "samples": len(samples),
               "patients": len(set(patients)),
               "mean_validation_dice": {n: float(np.mean([f["validation_dice"][n] for f in summary_folds]))
                                        for n in names},
               "mean_validation_iou": {n: float(np.mean([f["validation_iou"][n] for f in summary_folds]))
                                       for n in names},
               "sd_validation_dice": ({n: float(np.std([f["validation_dice"][n] for f in summary_folds], ddof=1))
                                       for n in names} if len(summary_folds) > 1 else None),
               "note": "validation figures are on held-out patients, on the network grid"
                       + (" (whole volumes, sliding window)" if recipe.preprocessing.spatial_dims == 3 else "")}
    if distributed.world_size() > 1:
        summary["distributed"] = {"world_size": distributed.world_size(), "ranks_identical": ranks_identical}
    if distributed.is_main():
        (out / "metrics.json").write_text(json.dumps(summary, indent=2))
        _plot_curves(histories, out / "training_curve.png")
    return summary
