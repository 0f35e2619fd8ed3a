"""``radiomark run disc-herniation STUDY_DIR``: per-level probability of a herniation.

The study is indexed with the recipe's series rules; the chosen T2 axial series' images at the
recipe's disc levels are classified by the run's ``fused`` model with the patient's age and sex
(options, else PatientAge / PatientSex) and the thecal sac width at that level, measured from a
canal mask (``canal_mask``: a label map on the chosen series' grid whose ``canal_labels`` make up the
thecal sac) or
given by the user. Outputs in ``OUT/<case>/`` (written together, atomically):
``measurements.json`` / ``measurements.csv`` (per level: probability, thecal sac measures; findings:
herniation and the absolute stenosis references), ``levels.csv`` and ``levels.png`` (each level's
slice with its probability).
The slices are shown as stored: rows and columns as in the files, pixel aspect kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.biomarkers.thecal_sac import thecal_sac_measures
from radiomark.case import CaseResult, Clinical
from radiomark.decision import Finding
from radiomark.errors import InputError
from radiomark.herniation.evaluation import load_model
from radiomark.herniation.recipe import HerniationRecipe
from radiomark.herniation.samples import image_input
from radiomark.herniation.tabular import tabular_vector
from radiomark.herniation.training import predict
from radiomark.image import Image
from radiomark.io import read_image
from radiomark.io.atomic import atomic_directory
from radiomark.io.dicom import DicomSeries, scan_dicom
from radiomark.io.series_rules import SeriesChoice, SeriesRules, SeriesVerdict, choose
from radiomark.io.tables import write_csv
from radiomark.outputs.case_folder import check_case_folder, write_measurements
from radiomark.outputs.figures import pyplot, save_png
from radiomark.pipeline.batch import Study


def _chosen(study: Path, rules: SeriesRules, scanned: Sequence[DicomSeries] | None
            ) -> tuple[SeriesVerdict, SeriesChoice]:
    """The verdict of the series the rules choose in ``study``, and the whole choice."""
    choice = choose(list(scanned) if scanned is not None else scan_dicom(study), rules, str(study))
    return next(v for v in choice.verdicts if v.chosen), choice


def _canal(level: str, slice_image: Any, sac: np.ndarray | None, sac_width: Mapping[str, float] | float | None,
           where: Path) -> dict[str, Any]:
    if sac is not None:
        return {**thecal_sac_measures(sac, slice_image), "canal_source": "canal mask"}
    if isinstance(sac_width, int | float):
        return {"thecal_sac_width_mm": float(sac_width), "canal_source": "given (all levels)"}
    if isinstance(sac_width, Mapping) and level in sac_width:
        return {"thecal_sac_width_mm": float(sac_width[level]), "canal_source": "given"}
    raise InputError(where, f"no thecal sac width for {level}: give --sac-width (mm, one value or LEVEL=mm pairs) "
                            "or --canal-mask (no canal segmenter is bundled yet)")


def _montage(rows: list[dict[str, Any]], slices: list[Image], path: Path, title: str) -> None:
    """Each level's slice (as stored, pixel aspect kept) titled with its probability."""
    figure, axes = pyplot().subplots(1, len(rows), figsize=(3 * len(rows), 3.4), squeeze=False)
    for axis, row, picture in zip(axes[0], rows, slices, strict=True):
        low, high = np.percentile(picture.array, (0.5, 99.5))
        rows_mm, columns_mm = picture.require_spacing()
        axis.imshow(picture.array, cmap="gray", vmin=low, vmax=high, aspect=rows_mm / columns_mm)
        colour = "red" if row["finding"] == "herniation" else "lime"
        axis.set_title(f"{row['disc_level']}: p = {row['probability']:.2f}", color=colour, fontsize=10)
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    save_png(figure, path)


def _level_key(level: str) -> str:
    """``L4-L5`` → ``l4_l5``: the level as part of a measurement name."""
    return level.lower().replace("-", "_")


def _measurements(row: dict[str, Any]) -> list[Measurement]:
    """The level's probability and the thecal sac measures it was classified with."""
    key = _level_key(row["disc_level"])
    found = [Measurement(f"{key}_herniation_probability", row["probability"], Unit.RATIO,
                         "fused image + clinical classifier (sigmoid)")]
    for name, unit in (("thecal_sac_width_mm", Unit.MM), ("thecal_sac_ap_mm", Unit.MM),
                       ("thecal_sac_area_mm2", Unit.MM2)):
        if name in row:
            found.append(Measurement(f"{key}_{name.rsplit('_', 1)[0]}", row[name], unit, row["canal_source"]))
    return found


def _findings(row: dict[str, Any], recipe: HerniationRecipe, model: str) -> list[Finding]:
    """Herniation at the level (the classifier's threshold) and, with a measured sac, the absolute
    stenosis references."""
    level, probability = row["disc_level"], row["probability"]
    found = [Finding(f"herniation {level}", probability >= recipe.threshold, "fusion classifier", model,
                     f"P(herniation) ≥ {recipe.threshold:g}", f"P = {probability:.3f}")]
    if "thecal_sac_ap_mm" in row:
        narrow = (row["thecal_sac_ap_mm"] < recipe.stenosis_ap_mm
                  or row["thecal_sac_area_mm2"] < recipe.stenosis_area_mm2)
        found.append(Finding(f"absolute stenosis {level}", narrow, "absolute stenosis references",
                             "thecal sac AP diameter / dural sac area",
                             f"AP < {recipe.stenosis_ap_mm:g} mm or area < {recipe.stenosis_area_mm2:g} mm²",
                             f"AP {row['thecal_sac_ap_mm']:.1f} mm, area {row['thecal_sac_area_mm2']:.0f} mm²"))
    return found


def classify_study(found: Study, name: str, out: Path, run: Path, recipe: HerniationRecipe, rules: SeriesRules, *,
                   age_years: float | None = None, sex: str | None = None,
                   sac_width: Mapping[str, float] | float | None = None,
                   canal_mask: str | os.PathLike[str] | None = None) -> CaseResult:
    """Classify every disc level of the chosen series of ``study`` into ``out/name`` (see the module
    docstring); returns the case's result."""
    study = found.path
    verdict, choice = _chosen(study, rules, found.series)
    series = verdict.series
    mask = read_image(canal_mask) if canal_mask is not None else None
    if mask is not None and tuple(mask.shape) != (series.n_slices, *series.size):
        raise InputError(canal_mask, f"the canal mask {mask.shape} is not on the chosen series' grid "
                                     f"{(series.n_slices, *series.size)}")
    age = age_years if age_years is not None else verdict.age_years
    if age is None:
        raise InputError(study, "no age: PatientAge is empty; give --age")
    patient_sex = str(sex or verdict.sex).upper()
    if patient_sex not in ("M", "F"):
        raise InputError(study, f"PatientSex is {sex or verdict.sex or 'empty'!r}, not M or F; the model needs M or "
                                "F: give --sex")
    clinical = Clinical(sex=patient_sex, age_years=float(age))
    network = load_model(run, recipe, "fused", len(recipe.tabular))
    rows, slices, images, vectors = [], [], [], []
    for index, (file, level) in enumerate(zip(series.files, verdict.levels, strict=True)):
        if level not in recipe.levels:
            continue
        slice_image = read_image(file.path)
        sac = None if mask is None else np.isin(np.asarray(mask.array)[index], recipe.canal_labels)
        canal = _canal(level, slice_image, sac, sac_width, study)
        vectors.append(tabular_vector({"age_years": clinical.age_years, "sex": clinical.sex, **canal,
                                       "disc_level": level}, recipe, f"{study} ({level})"))
        images.append(image_input(slice_image, recipe))
        slices.append(slice_image)
        rows.append({"disc_level": level, "image": str(file.path), "instance": file.instance_number, **canal})
    if not rows:
        raise InputError(study, f"the chosen series '{series.description}' has no image at a disc level "
                                f"({', '.join(recipe.levels)}) in its {rules.level_tag} tags")
    probability = predict(network, torch.as_tensor(np.stack(images)), torch.as_tensor(np.stack(vectors)),
                          recipe.training.batch_size)
    for row, p in zip(rows, probability, strict=True):
        row["probability"] = float(p)
        row["finding"] = recipe.classes[int(p >= recipe.threshold)]
    measurements = {m.name: m for row in rows for m in _measurements(row)}
    findings = [finding for row in rows for finding in _findings(row, recipe, str(run))]
    result = CaseResult(name, str(study), clinical, measurements, findings, "fusion classifier",
                        series=choice.record())
    target = out / name
    check_case_folder(target, str(study))
    with atomic_directory(target) as folder:
        write_measurements(folder, recipe.name, str(run), result)
        write_csv([{"case": name, **row} for row in rows], folder / "levels.csv")
        _montage(rows, slices, folder / "levels.png", f"{name}: '{series.description}' (p = probability of herniation)")
    return replace(result, outputs={file: str(target / file) for file in
                                    ("measurements.json", "measurements.csv", "levels.csv", "levels.png")})
