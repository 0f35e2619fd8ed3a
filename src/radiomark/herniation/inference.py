"""``radiomark run disc-herniation STUDY_DIR``: per-level probability of a herniation.

The study is indexed with the recipe's series rules; the chosen T2 axial series' images at the
recipe's disc levels are classified by the run's ``fused`` model with the patient's age and sex
(options, else PatientAge / PatientSex) and the thecal sac width at that level, measured from a
canal mask (``canal_mask``: a label map on the chosen series' grid whose ``canal_labels`` make up the
thecal sac) or
given by the user. Outputs in ``OUT/<patient>/`` (written together, atomically):
``predictions.json``, ``levels.csv`` and ``levels.png`` (each level's slice with its probability).
The slices are shown as stored: rows and columns as in the files, pixel aspect kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiomark.biomarkers.thecal_sac import thecal_sac_measures
from radiomark.errors import InputError
from radiomark.herniation.evaluation import load_model
from radiomark.herniation.recipe import load_run_recipe
from radiomark.herniation.samples import image_input
from radiomark.herniation.tabular import tabular_vector
from radiomark.herniation.training import predict
from radiomark.image import Image
from radiomark.io import read_image
from radiomark.io.atomic import atomic_directory
from radiomark.io.series_index import SeriesRules, SeriesVerdict, judge_series, load_series_rules
from radiomark.io.tables import write_csv
from radiomark.outputs.figures import pyplot, save_png


def _chosen(study: Path, rules: SeriesRules) -> SeriesVerdict:
    from radiomark.io.dicom import scan_dicom

    verdicts = judge_series(scan_dicom(study), rules)
    if len({v.series.study_uid for v in verdicts}) > 1:
        raise InputError(study, "holds more than one study; give one study folder per run")
    chosen = [v for v in verdicts if v.chosen]
    if not chosen:
        reasons = "; ".join(f"'{v.series.description}': {v.reason}" for v in verdicts)
        raise InputError(study, f"no series matches the rules ({reasons})")
    return chosen[0]


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


def run_herniation(study: str | os.PathLike[str], out_dir: str | os.PathLike[str], model: str | os.PathLike[str], *,
                   age_years: float | None = None,
                   sex: str | None = None, sac_width: Mapping[str, float] | float | None = None,
                   canal_mask: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Classify every disc level of the chosen series of ``study``; returns the predictions record."""
    run = Path(model)
    recipe = load_run_recipe(run)
    source = Path(study)
    rules = load_series_rules(recipe.series_rules)
    verdict = _chosen(source, rules)
    series = verdict.series
    mask = read_image(canal_mask) if canal_mask is not None else None
    if mask is not None and tuple(mask.shape) != (series.n_slices, *series.size):
        raise InputError(canal_mask, f"the canal mask {mask.shape} is not on the chosen series' grid "
                                     f"{(series.n_slices, *series.size)}")
    clinical = {"age_years": age_years if age_years is not None else verdict.age_years,
                "sex": sex or verdict.sex}
    if clinical["age_years"] is None:
        raise InputError(source, "no age: PatientAge is empty; give --age")
    if str(clinical["sex"]).upper() not in ("M", "F"):
        raise InputError(source, f"PatientSex is {clinical['sex'] or 'empty'!r}, not M or F; give --sex")
    network = load_model(run, recipe, "fused", len(recipe.tabular))
    rows, slices, images, vectors = [], [], [], []
    for index, (file, level) in enumerate(zip(series.files, verdict.levels, strict=True)):
        if level not in recipe.levels:
            continue
        slice_image = read_image(file.path)
        sac = None if mask is None else np.isin(np.asarray(mask.array)[index], recipe.canal_labels)
        canal = _canal(level, slice_image, sac, sac_width, source)
        vectors.append(tabular_vector({**clinical, **canal, "disc_level": level}, recipe, f"{source} ({level})"))
        network_input = image_input(slice_image, recipe)
        images.append(network_input)
        slices.append(slice_image)
        rows.append({"disc_level": level, "image": str(file.path), "instance": file.instance_number, **canal})
    if not rows:
        raise InputError(source, f"the chosen series '{series.description}' has no image at a disc level "
                                 f"({', '.join(recipe.levels)}) in its {rules.level_tag} tags")
    probability = predict(network, torch.as_tensor(np.stack(images)), torch.as_tensor(np.stack(vectors)),
                          recipe.training.batch_size)
    for row, p in zip(rows, probability, strict=True):
        row["probability"] = float(p)
        row["finding"] = recipe.classes[int(p >= recipe.threshold)]
        if "thecal_sac_ap_mm" in row:
            row["stenosis_reference"] = ("absolute stenosis range" if row["thecal_sac_ap_mm"] < recipe.stenosis_ap_mm
                                         or row["thecal_sac_area_mm2"] < recipe.stenosis_area_mm2 else "above both")
    record = {"recipe": recipe.name, "model": str(run), "study": str(source), "patient": series.patient_id,
              "series": {"uid": series.series_uid, "description": series.description, "why": verdict.reason},
              "clinical": {"age_years": clinical["age_years"], "sex": clinical["sex"]},
              "threshold": recipe.threshold, "levels": rows,
              "note": "thecal sac = the dural sac (the cord ends at L1–L2); stenosis references: AP < "
                      f"{recipe.stenosis_ap_mm:g} mm, area < {recipe.stenosis_area_mm2:g} mm²"}
    target = Path(out_dir) / (series.patient_id or source.name)
    with atomic_directory(target) as folder:
        (folder / "predictions.json").write_text(json.dumps(record, indent=2))
        write_csv([{"patient": series.patient_id, **row} for row in rows], folder / "levels.csv")
        _montage(rows, slices, folder / "levels.png", f"{series.patient_id}: '{series.description}' "
                                                       f"(p = probability of herniation)")
    record["outputs"] = {name: str(target / name) for name in ("predictions.json", "levels.csv", "levels.png")}
    return record
