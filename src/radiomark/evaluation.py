"""Held-out evaluation of a trained recipe model: overlap per structure and biomarker agreement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from radiomark.biomarkers.body_composition import tissue_area
from radiomark.inference.predictor import Segmenter
from radiomark.io.atomic import atomic_file
from radiomark.io.tables import write_csv
from radiomark.metrics import bland_altman, overlap_scores
from radiomark.pipeline import postprocess
from radiomark.report.figures import pyplot, save_png
from radiomark.training.data import load_cases


def _trained_patients(run_dir: Path) -> set[str]:
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        return set()
    folds = json.loads(metrics.read_text()).get("folds", [])
    return {p for fold in folds for key in ("train_patients", "validation_patients") for p in fold.get(key, [])}


def _plot_bland_altman(measured: list[float], reference: list[float], stats: dict[str, float], path: Path,
                       title: str) -> None:
    mean = (np.asarray(measured) + np.asarray(reference)) / 2
    difference = np.asarray(measured) - np.asarray(reference)
    figure, axis = pyplot().subplots(figsize=(6, 4.5))
    axis.scatter(mean, difference, s=14)
    for value, style in ((stats["bias"], "-"), (stats["lower_limit"], "--"), (stats["upper_limit"], "--")):
        axis.axhline(value, color="tab:red", linestyle=style, linewidth=1)
    axis.set(xlabel="mean of model and reference SMA (cm²)", ylabel="model − reference (cm²)", title=title)
    save_png(figure, path)


def evaluate(segmenter: Segmenter, data_dir: str | Path, out_dir: str | Path, data_kind: str) -> dict[str, Any]:
    """Evaluate ``segmenter`` on the cases under ``data_dir``; writes JSON, CSV and a Bland–Altman PNG.

    Scores are computed on each image's own grid after the recipe's post-processing. Patients that
    the model saw in training are listed under ``leaked_patients`` (their figures are not held out).
    """
    recipe = segmenter.recipe
    cases = load_cases(data_dir, recipe)
    leaked = sorted(_trained_patients(segmenter.run_dir) & {case.patient_id for case in cases})
    rows, measured, reference = [], [], []
    for case in cases:
        predicted = postprocess(recipe, case.image, segmenter.predict(case.image))
        scores = overlap_scores(predicted, case.labels)
        sma = tissue_area(predicted, "skeletal_muscle").value
        sma_reference = tissue_area(case.labels, "skeletal_muscle").value
        measured.append(sma)
        reference.append(sma_reference)
        row = {"case": case.case_id, "patient": case.patient_id, "sma_cm2": sma, "reference_sma_cm2": sma_reference}
        row |= {f"{name}_{kind}": value for name, pair in scores.items() for kind, value in pair.items()}
        rows.append(row)
    names = [recipe.labels[v] for v in sorted(recipe.labels)]
    errors = np.asarray(measured) - np.asarray(reference)
    relative = np.abs(errors) / np.maximum(np.asarray(reference), 1e-9)
    summary = {
        "recipe": recipe.name, "model": str(segmenter.run_dir), "data": str(data_dir), "data_kind": data_kind,
        "cases": len(cases), "patients": len({c.patient_id for c in cases}), "leaked_patients": leaked,
        "dice": {n: float(np.mean([r[f"{n}_dice"] for r in rows])) for n in names},
        "iou": {n: float(np.mean([r[f"{n}_iou"] for r in rows])) for n in names},
        "min_iou": {n: float(np.min([r[f"{n}_iou"] for r in rows])) for n in names},
        "sma_mean_absolute_error_cm2": float(np.abs(errors).mean()),
        "sma_mean_relative_error_percent": float(100 * relative.mean()),
        "sma_bland_altman_cm2": bland_altman(measured, reference),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "evaluation.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2))
    write_csv(rows, out / "per_case.csv")
    _plot_bland_altman(measured, reference, summary["sma_bland_altman_cm2"], out / "bland_altman.png",
                       f"SMA agreement, {len(cases)} slices ({data_kind})")
    return summary
