"""Agreement between predictions and references: Dice / IoU per structure, Bland–Altman, and
classification scores (scikit-learn)."""

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


def classification_scores(truth: Sequence[int] | np.ndarray, probability: Sequence[float] | np.ndarray,
                          threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, F1, sensitivity, specificity (positive when probability >= ``threshold``) and
    ROC-AUC (NaN when only one class is present), with the sample count ``n``."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

    truth, probability = np.asarray(truth, dtype=int), np.asarray(probability, dtype=float)
    predicted = (probability >= threshold).astype(int)
    negatives, false_positives, false_negatives, positives = confusion_matrix(truth, predicted,
                                                                              labels=[0, 1]).ravel()
    both = np.unique(truth).size == 2
    return {"accuracy": float(accuracy_score(truth, predicted)),
            "f1": float(f1_score(truth, predicted, zero_division=0)),
            "sensitivity": float(positives / max(1, positives + false_negatives)),
            "specificity": float(negatives / max(1, negatives + false_positives)),
            "roc_auc": float(roc_auc_score(truth, probability)) if both else float("nan"),
            "n": int(truth.size)}
