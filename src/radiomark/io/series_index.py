"""An index of DICOM studies: one row per image, with the series' verdict under a recipe's series
rules (:mod:`radiomark.io.series_rules`) — chosen, refused or beaten, and why — and, for MR, the
weighting guessed from the tags and the disc level of each image where the rules ask for it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from radiomark.io.dicom import ProgressCallback, scan_dicom
from radiomark.io.series_rules import SeriesRules, SeriesVerdict, judge_series
from radiomark.io.tables import write_csv


@dataclass(frozen=True)
class IndexRow:
    """One image of the index (one CSV row)."""

    patient: str
    patient_age_years: float | None
    patient_sex: str
    study: str
    series: str
    description: str
    modality: str
    orientation: str
    image_type: str
    slice_thickness_mm: float | None
    kernel: str
    echo_time_ms: float | None
    repetition_time_ms: float | None
    scanning_sequence: str
    weighting: str
    weighting_reason: str
    instance: int | None
    disc_level: str
    chosen: bool
    reason: str
    path: str


def index_studies(path: str | os.PathLike[str], rules: SeriesRules,
                  progress: ProgressCallback | None = None) -> tuple[list[IndexRow], list[SeriesVerdict]]:
    """Index every image under ``path`` (DICOM, searched recursively)."""
    verdicts = judge_series(scan_dicom(path, progress), rules)
    rows = []
    for verdict in verdicts:
        series = verdict.series
        levels = verdict.levels or ("",) * len(series.files)
        for file, level in zip(series.files, levels, strict=True):
            rows.append(IndexRow(
                patient=series.patient_id, patient_age_years=verdict.age_years, patient_sex=verdict.sex,
                study=series.study_uid, series=series.series_uid,
                description=series.description, modality=series.modality,
                orientation=str(series.orientation or "unknown"), image_type="\\".join(series.image_type),
                slice_thickness_mm=series.slice_thickness_mm, kernel=series.kernel, echo_time_ms=series.echo_time_ms,
                repetition_time_ms=series.repetition_time_ms, scanning_sequence=verdict.scanning_sequence,
                weighting=verdict.weighting.guess if verdict.weighting else "",
                weighting_reason=verdict.weighting.reason if verdict.weighting else "",
                instance=file.instance_number, disc_level=level, chosen=verdict.chosen, reason=verdict.reason,
                path=str(file.path)))
    return rows, verdicts


def write_index(rows: list[IndexRow], out: str | os.PathLike[str]) -> Path:
    """The index as CSV, written atomically."""
    return write_csv([asdict(row) for row in rows], out)
