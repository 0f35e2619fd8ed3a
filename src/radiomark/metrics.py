"""Agreement between predictions and references: Dice / IoU per structure, Bland–Altman."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from radiomark.errors import GeometryError
from radiomark.image import LabelMap


def overlap_scores(predicted: LabelMap, reference: LabelMap) -> dict[str, dict[str, float]]:
    """Dice and IoU of every structure of ``reference`` (MONAI metrics; 1.0 when both are empty)."""
    from monai.metrics import compute_dice, compute_iou

    if predicted.shape != reference.shape:
        raise GeometryError(None, f"prediction {predicted.shape} and reference {reference.shape} differ in shape")
    values = sorted(reference.labels)
    one_hot = [torch.stack([torch.from_numpy(np.asarray(m.array) == v) for v in values])[None].float()
               for m in (predicted, reference)]
    dice = compute_dice(one_hot[0], one_hot[1], include_background=True, ignore_empty=False)[0].tolist()
    iou = compute_iou(one_hot[0], one_hot[1], include_background=True, ignore_empty=False)[0].tolist()
    return {reference.labels[v]: {"dice": float(d), "iou": float(i)} for v, d, i in zip(values, dice, iou, strict=True)}


def bland_altman(measured: Sequence[float], reference: Sequence[float]) -> dict[str, float]:
    """Mean difference (bias), its SD, and the 95 % limits of agreement (bias ± 1.96 SD)."""
    difference = np.asarray(measured, dtype=float) - np.asarray(reference, dtype=float)
    bias = float(difference.mean())
    sd = float(difference.std(ddof=1)) if difference.size > 1 else 0.0
    return {"bias": bias, "sd": sd, "lower_limit": bias - 1.96 * sd, "upper_limit": bias + 1.96 * sd,
            "n": int(difference.size)}
