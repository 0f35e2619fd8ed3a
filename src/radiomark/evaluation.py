"""Held-out evaluation of trained models: segmentation overlap per structure and biomarker
agreement; image classification scores with ROC curve and confusion matrix."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from radiomark.classification import CLASSIFIER_DIR, find_labelled_images
from radiomark.inference.classifier import ImageClassifier
from radiomark.inference.predictor import Segmenter
from radiomark.io.atomic import atomic_file
from radiomark.io.tables import write_csv
from radiomark.metrics import agreement, classification_scores, overlap_scores
from radiomark.outputs.figures import pyplot, save_png
from radiomark.pipeline.steps import measure, postprocess
from radiomark.quality import review
from radiomark.training.classifier import prepare_inputs
from radiomark.training.data import load_cases
from radiomark.training.loop import TrainingProgress


def _trained_patients(run_dir: Path) -> set[str]:
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        return set()
    folds = json.loads(metrics.read_text()).get("folds", [])
    return {p for fold in folds for key in ("train_patients", "validation_patients") for p in fold.get(key, [])}


def _plot_bland_altman(measured: list[float], reference: list[float], stats: dict[str, float], path: Path,
                       label: str, title: str) -> None:
    mean = (np.asarray(measured) + np.asarray(reference)) / 2
    difference = np.asarray(measured) - np.asarray(reference)
    figure, axis = pyplot().subplots(figsize=(6, 4.5))
    axis.scatter(mean, difference, s=14)
    for value, style in ((stats["bias"], "-"), (stats["lower_limit"], "--"), (stats["upper_limit"], "--")):
        axis.axhline(value, color="tab:red", linestyle=style, linewidth=1)
    axis.set(xlabel=f"mean of model and reference {label}", ylabel=f"model − reference {label}", title=title)
    save_png(figure, path)


def evaluate(segmenter: Segmenter, data_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
             data_kind: str, label_mapping: str | None = None) -> dict[str, Any]:
    """Evaluate ``segmenter`` on the cases under ``data_dir``; writes evaluation.json, per_case.csv
    and one Bland–Altman PNG per agreement measure.

    Scores are computed on each image's own grid after the recipe's post-processing (all of it,
    including the segmenter's network-grid steps). Each of the recipe's ``agreement_measures`` is
    computed on the predicted and on the reference labels and compared (absolute / relative error,
    Bland–Altman, Pearson r, ICC(A,1)); a case where either side lacks the measure (an empty
    structure) is counted under ``missing``. Each case's quality-control flags are listed, and
    the cases with any counted. Patients that the model saw in training are listed under
    ``leaked_patients`` (their figures are not held out).
    """
    recipe = segmenter.recipe
    cases = load_cases(data_dir, recipe, label_mapping)
    leaked = sorted(_trained_patients(segmenter.run_dir) & {case.patient_id for case in cases})
    rows: list[dict[str, Any]] = []
    pairs: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in recipe.agreement_measures}
    units: dict[str, str] = {}
    missing = dict.fromkeys(recipe.agreement_measures, 0)
    rotations = flagged = withheld = 0
    for case in cases:
        prediction = segmenter.segment(case.study.channels)
        rotations += prediction.rotation_fired
        predicted = postprocess(recipe, case.image, prediction.labels)
        scores = overlap_scores(predicted, case.labels)
        measured_here = measure(recipe, case.study, predicted)
        truth = measure(recipe, case.study, case.labels)
        checked = review(recipe, case.image, prediction.labels, prediction.probabilities, predicted, measured_here,
                         prediction.rotation_fired)
        flagged += bool(checked.flags)
        withheld += bool(checked.withheld)
        row: dict[str, Any] = {"case": case.case_id, "patient": case.patient_id,
                               "rotation_rule_fired": prediction.rotation_fired, "confidence": checked.confidence,
                               "decision_withheld": "; ".join(checked.withheld), "qc_flags": "; ".join(checked.flags)}
        for name in recipe.agreement_measures:
            if name not in measured_here or name not in truth:
                missing[name] += 1
                continue
            pairs[name][0].append(measured_here[name].value)
            pairs[name][1].append(truth[name].value)
            units[name] = str(truth[name].unit)
            row |= {name: measured_here[name].value, f"reference_{name}": truth[name].value}
        row |= {f"{structure}_{kind}": score for structure, pair in scores.items() for kind, score in pair.items()}
        rows.append(row)
    names = [recipe.labels[v] for v in sorted(recipe.labels)]
    summary: dict[str, Any] = {
        "recipe": recipe.name, "model": str(segmenter.run_dir), "data": str(data_dir), "data_kind": data_kind,
        "cases": len(cases), "patients": len({c.patient_id for c in cases}), "leaked_patients": leaked,
        "postprocessing": recipe.postprocessing.model_dump(mode="json"), "rotation_rule_fired": rotations,
        "cases_with_qc_flags": flagged, "cases_with_decisions_withheld": withheld,
        "dice": {n: float(np.mean([r[f"{n}_dice"] for r in rows])) for n in names},
        "iou": {n: float(np.mean([r[f"{n}_iou"] for r in rows])) for n in names},
        "min_iou": {n: float(np.min([r[f"{n}_iou"] for r in rows])) for n in names},
        "agreement": {},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (measured, reference) in pairs.items():
        if not measured:
            summary["agreement"][name] = {"n": 0, "missing": missing[name]}
            continue
        stats = agreement(measured, reference) | {"unit": units[name], "missing": missing[name],
                                                  "plot": f"bland_altman_{name}.png"}
        summary["agreement"][name] = stats
        _plot_bland_altman(measured, reference, stats["bland_altman"], out / stats["plot"],
                           f"{name.replace('_', ' ')} ({units[name]})", f"{len(measured)} cases ({data_kind})")
    with atomic_file(out / "evaluation.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2))
    write_csv(rows, out / "per_case.csv")
    return summary


def _plot_roc(truth: np.ndarray, probability: np.ndarray, auc: float, path: Path, title: str) -> None:
    from sklearn.metrics import roc_curve

    false_positive, true_positive, _ = roc_curve(truth, probability)
    figure, axis = pyplot().subplots(figsize=(5, 5))
    axis.plot(false_positive, true_positive, label=f"AUC {auc:.3f}")
    axis.plot([0, 1], [0, 1], ":", color="grey")
    axis.set(xlabel="1 − specificity", ylabel="sensitivity", title=title, xlim=(0, 1), ylim=(0, 1.01))
    axis.legend(loc="lower right")
    save_png(figure, path)


def _plot_confusion(truth: np.ndarray, predicted: np.ndarray, classes: tuple[str, str], path: Path,
                    title: str) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    figure, axis = pyplot().subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(truth, predicted, labels=[0, 1], display_labels=list(classes), ax=axis,
                                            colorbar=False)
    axis.set_title(title, fontsize=9)
    save_png(figure, path)


def evaluate_classifier(classifier: ImageClassifier, segmenter: Segmenter | None, data_dir: str | os.PathLike[str],
                        out_dir: str | os.PathLike[str], data_kind: str, patient_pattern: str | None = None,
                        progress: TrainingProgress | None = None) -> dict[str, Any]:
    """Accuracy, F1, sensitivity, specificity, ROC-AUC of ``classifier`` on the class folders under
    ``data_dir``; writes evaluation.json, per_image.csv, roc.png and confusion_matrix.png.

    Patients the classifier saw in training (its ``metrics.json``) are listed under
    ``leaked_patients``: their figures are not held out.
    """
    recipe = classifier.recipe
    assert recipe.classifier is not None  # ImageClassifier.load checks
    samples = find_labelled_images(data_dir, recipe.classifier.classes, patient_pattern)
    inputs = prepare_inputs(recipe, samples, segmenter, progress)
    probability = classifier.probabilities(inputs.numpy(), recipe.classifier.batch_size)
    truth = np.asarray([sample.label for sample in samples])
    scores = classification_scores(truth, probability, recipe.classifier.threshold)
    metrics = classifier.run_dir / CLASSIFIER_DIR / "metrics.json"
    seen = set()
    if metrics.is_file():
        document = json.loads(metrics.read_text())
        seen = set(document.get("train_patients", [])) | set(document.get("validation_patients", []))
    summary = {"recipe": recipe.name, "model": str(classifier.run_dir), "data": str(data_dir), "data_kind": data_kind,
               "classes": list(recipe.classifier.classes), "input": recipe.classifier.input,
               "images": len(samples), "patients": len({s.patient_id for s in samples}),
               "leaked_patients": sorted(seen & {s.patient_id for s in samples}), **scores}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "evaluation.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2))
    write_csv([{"image": str(s.path), "patient": s.patient_id, "truth": recipe.classifier.classes[s.label],
                "probability": float(p)} for s, p in zip(samples, probability, strict=True)], out / "per_image.csv")
    title = f"{len(samples)} images ({data_kind})"
    _plot_roc(truth, probability, scores["roc_auc"], out / "roc.png", title)
    _plot_confusion(truth, (probability >= recipe.classifier.threshold).astype(int), recipe.classifier.classes,
                    out / "confusion_matrix.png", title)
    return summary
