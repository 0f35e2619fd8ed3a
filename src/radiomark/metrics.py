"""Agreement between predictions and references: Dice / IoU per structure, Bland–Altman, Pearson r
and intraclass correlation of a measurement, and classification scores (scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

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


def bland_altman(measured: ArrayLike, reference: ArrayLike) -> dict[str, float]:
    """Mean difference (bias), its SD, and the 95 % limits of agreement (bias ± 1.96 SD)."""
    difference = np.asarray(measured, dtype=float) - np.asarray(reference, dtype=float)
    bias = float(difference.mean())
    sd = float(difference.std(ddof=1)) if difference.size > 1 else 0.0
    return {"bias": bias, "sd": sd, "lower_limit": bias - 1.96 * sd, "upper_limit": bias + 1.96 * sd,
            "n": int(difference.size)}


def intraclass_correlation(measured: ArrayLike, reference: ArrayLike) -> float:
    """ICC(A,1): two-way random effects, absolute agreement, single measurement (McGraw & Wong
    1996; Shrout & Fleiss ICC(2,1)) of two raters — model and reference — over the same cases.
    NaN for fewer than 2 cases or no variance at all.

    Written out (a few lines of ANOVA mean squares) rather than taken from pingouin, whose
    dependencies radiomark lacks (pandas, statsmodels, seaborn, xarray: 179 MB installed, measured
    2026-11-29); the test checks it against Shrout & Fleiss's published example, where pingouin's
    ``intraclass_corr`` gives ICC(A,1) = 0.289764 as well.
    """
    ratings = np.column_stack([np.asarray(measured, dtype=float), np.asarray(reference, dtype=float)])
    return icc_absolute_agreement(ratings)


def icc_absolute_agreement(ratings: np.ndarray) -> float:
    """ICC(A,1) of a ``cases × raters`` matrix (see :func:`intraclass_correlation`)."""
    n, k = ratings.shape
    if n < 2:
        return float("nan")
    grand = ratings.mean()
    rows = k * ((ratings.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    columns = n * ((ratings.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    residual = ((ratings - ratings.mean(axis=1, keepdims=True) - ratings.mean(axis=0, keepdims=True) + grand) ** 2
                ).sum() / ((n - 1) * (k - 1))
    denominator = rows + (k - 1) * residual + k * (columns - residual) / n
    return float((rows - residual) / denominator) if denominator > 0 else float("nan")


def agreement(measured: Sequence[float], reference: Sequence[float]) -> dict[str, Any]:
    """How a measurement from predicted masks agrees with the same measurement from reference
    masks: mean absolute and relative error, Bland–Altman, Pearson r (SciPy; NaN below 3 cases or
    without variance) and ICC(A,1)."""
    from scipy.stats import pearsonr

    measured_array, reference_array = np.asarray(measured, dtype=float), np.asarray(reference, dtype=float)
    errors = measured_array - reference_array
    relative = np.abs(errors) / np.maximum(np.abs(reference_array), 1e-9)
    varied = measured_array.size >= 3 and np.ptp(measured_array) > 0 and np.ptp(reference_array) > 0
    return {"n": int(errors.size), "mean_absolute_error": float(np.abs(errors).mean()),
            "mean_relative_error_percent": float(100 * relative.mean()),
            "pearson_r": float(pearsonr(measured_array, reference_array).statistic) if varied else float("nan"),
            "icc_a1": intraclass_correlation(measured_array, reference_array),
            "bland_altman": bland_altman(measured_array, reference_array)}


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
