"""A case's output folder: label map, measurements (JSON and CSV), overlay, report and, on request,
DICOM SEG / SR and PDF.

Every output of a case is written inside a temporary folder that is renamed into place at the
end, so a failed case leaves nothing behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from radiomark import __version__
from radiomark.case import CaseResult
from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.io import read_image
from radiomark.io.atomic import atomic_directory
from radiomark.io.nifti import write_nifti
from radiomark.io.raster import write_png
from radiomark.io.tables import write_csv
from radiomark.outputs.anonymize import anonymize_files
from radiomark.outputs.html import write_case_report
from radiomark.outputs.options import WITHHELD, OutputOptions
from radiomark.outputs.overlay import save_overlay
from radiomark.outputs.pdf import write_case_pdf
from radiomark.outputs.seg import write_dicom_seg
from radiomark.outputs.sr import segment_numbers, sr_codes, write_dicom_sr
from radiomark.recipes import biomarkers_module
from radiomark.recipes.schema import Recipe, Window
from radiomark.transforms.intensity import as_unit_float, to_unit_interval

#: The version of the layout of ``measurements.json``; readers check it.
MEASUREMENTS_SCHEMA = "radiomark.measurements/1"


#: A UID or its ending as reasons quote it.
_UID_ENDING = re.compile(r"…?\b\d+(?:\.\d+){2,}\b|…\d[\d.]{3,}")


def _without_uids(series: Mapping[str, Any]) -> dict[str, Any]:
    """A series record (:meth:`~radiomark.io.series_rules.SeriesChoice.record`) with its UIDs
    withheld, also the UID endings ("…123456789012") its reasons quote: DICOM UIDs are identifiers
    that de-identification replaces."""
    def scrub(value: Any) -> Any:
        return _UID_ENDING.sub("…(withheld)", value) if isinstance(value, str) else value

    def clean(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {key: (WITHHELD if key == "uid" else [WITHHELD] * len(value) if key == "echo_series" else scrub(value))
                for key, value in entry.items()}

    record = clean(series)
    if "not_chosen" in record:
        record["not_chosen"] = [clean(other) for other in record["not_chosen"]]
    return record


def check_case_folder(out_dir: Path, source: str) -> None:
    """Refuse an output folder that would replace the input ``source`` or that exists and holds
    something other than an earlier radiomark result (``measurements.json``): nothing else is ever
    deleted."""
    target, study = out_dir.resolve(), Path(source).resolve()
    if target == study or target in study.parents:
        raise InputError(out_dir, "the output folder would replace the input; choose another --out")
    if out_dir.exists() and not (out_dir / "measurements.json").is_file():
        raise InputError(out_dir, "exists and is not a radiomark result; refusing to replace it (choose another --out)")


def write_measurements(folder: Path, recipe_name: str, model: str, result: CaseResult) -> None:
    """``folder/measurements.json`` (schema :data:`MEASUREMENTS_SCHEMA`) and ``measurements.csv``
    (one row: :meth:`~radiomark.case.CaseResult.row`)."""
    document = {"schema": MEASUREMENTS_SCHEMA, "case": result.case_id, "source": result.source,
                "identifiers": result.identifiers, "recipe": recipe_name, "model": model, "series": dict(result.series),
                "level": dict(result.level), "segmentation_confidence": result.confidence,
                "qc_flags": result.flags, "radiomark": __version__, "clinical": asdict(result.clinical),
                "measurements": [asdict(m) for m in result.measurements.values()],
                "findings": [asdict(f) for f in result.findings]}
    (folder / "measurements.json").write_text(json.dumps(document, indent=2))
    write_csv([result.row()], folder / "measurements.csv")


def write_case_outputs(recipe: Recipe, image: Image, labels: LabelMap, result: CaseResult, out_dir: Path,
                       model: str, options: OutputOptions | None = None,
                       figures: Mapping[str, Callable[[Path], object]] | None = None) -> CaseResult:
    """Write labels.nii.gz, measurements.json/.csv, overlay.png, report.html (seg.dcm, sr.dcm,
    report.pdf as ``options`` say; none by default) atomically; returns the result as written, with its outputs.

    An image without known pixel spacing (a plain PNG radiograph) gets ``labels.png`` (label values
    as grey levels) instead of a NIfTI file, which would need a spacing.

    ``out_dir`` is checked by :func:`check_case_folder`.
    """
    check_case_folder(out_dir, result.source)
    options = options or OutputOptions()
    if options.dicom_seg and not labels.metadata.get("files"):
        raise InputError(result.source, "a DICOM SEG needs DICOM input; this image was not read from DICOM")
    identifiers = dict(image.metadata.get("identifiers") or {})
    result = replace(result, source=WITHHELD if options.anonymizer is not None else result.source,
                     identifiers={name: identifiers.get(name, "") for name in options.keep_identifiers},
                     series=_without_uids(result.series) if options.anonymizer is not None else result.series)
    label_file = "labels.nii.gz" if labels.spacing_mm is not None else "labels.png"
    names = [label_file, "measurements.json", "measurements.csv", "overlay.png", "report.html"]
    names += (["seg.dcm"] if options.dicom_seg else []) + (["sr.dcm"] if options.dicom_sr else [])
    names += ["report.pdf"] if options.pdf else []
    names += list(figures or {})
    with atomic_directory(out_dir) as folder:
        if labels.spacing_mm is None:
            write_png(labels, folder / label_file)
        else:
            write_nifti(labels, folder / label_file)
        if options.dicom_seg:
            write_dicom_seg(labels, folder / "seg.dcm", recipe.label_codes, algorithm=f"radiomark {recipe.name}")
        if options.dicom_sr:
            write_dicom_sr(result.measurements, sr_codes(result.measurements, biomarkers_module(recipe).SR_CODES),
                           folder / "seg.dcm", labels.metadata["files"], segment_numbers(labels.labels),
                           np.asarray(labels.array), folder / "sr.dcm", algorithm=f"radiomark {recipe.name}")
        if options.anonymizer is not None and options.dicom_seg:
            anonymize_files([folder / name for name in ("seg.dcm", "sr.dcm") if (folder / name).exists()],
                            options.anonymizer)
        write_measurements(folder, recipe.name, model, result)
        write_case_report(recipe, result, model, folder / "report.html")
        window = recipe.preprocessing.window
        if window is not None:  # CT: the recipe's display window (soft tissue by default), whatever the model's
            display = recipe.preprocessing.display_window or Window(level=40, width=400)
            grey = as_unit_float(image.array, display.level, display.width)
            shown = (f"window {display.level:g}/{display.width:g} HU, model window "
                     f"{window.level:g}/{window.width:g}")
        else:
            grey = to_unit_interval(image.array, recipe.preprocessing)
            shown = "grey levels scaled as the model sees them"
        save_overlay(grey, image, labels, folder / "overlay.png", title=f"{result.case_id}: {recipe.title} ({shown})")
        for name, draw in (figures or {}).items():
            draw(folder / name)
        if options.pdf:
            write_case_pdf(recipe, result, model, folder / "overlay.png", folder / "report.pdf")
    written = out_dir / label_file
    return replace(result, outputs={name: str(out_dir / name) for name in names},
                   labels_reader=partial(_read_labels, written, dict(labels.labels)))


def _read_labels(path: Path, names: Mapping[int, str]) -> LabelMap:
    """The label map a case wrote (NIfTI, or a PNG of label values), with its structure names."""
    image = read_image(path)
    return LabelMap.like(image, np.asarray(image.array), names)
