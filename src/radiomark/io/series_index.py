"""An index of MRI studies: one row per image, the sequence weighting guessed from the tags, and
why each series was or was not chosen by a set of selection rules (recipe data, see
``recipes/series/lumbar-t2-axial.yaml``).

SeriesDescription alone is unreliable (sites name series freely, and copies keep old names), so the
weighting comes first from the physics the scanner recorded — RepetitionTime and EchoTime of a
spin-echo sequence, an inversion pulse in ScanningSequence — and the description only decides where
those are missing or ambiguous; a description that contradicts the timing is recorded in the
reason. Orientation comes from ImageOrientationPatient (the plane closest to the slice normal), the
disc level of an image from a tag that carries it (ImageComments by default, e.g. ``"L4-L5"``).
Images are used one by one, so gaps and uneven steps between slices (disc-level blocks) do not
reject a series; a missing PixelSpacing does (the canal measures need it).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radiomark.errors import RecipeError
from radiomark.io.dicom import DicomSeries, ProblemKind, ProgressCallback, age_in_years, read_dataset, scan_dicom
from radiomark.io.tables import write_csv

#: Weightings the index tells apart; ``IR`` is any inversion-recovery image (STIR, FLAIR, TIRM).
WEIGHTINGS = ("T1", "T2", "PD", "IR", "unknown")
_LEVEL = re.compile(r"\b(L[1-5]|T1[0-2])\s*[-/ ]?\s*(L?[1-5]|S1)\b", re.IGNORECASE)


class TimingWindow(BaseModel):
    """Closed ranges of RepetitionTime and EchoTime (ms) that define a spin-echo weighting; ``None``
    leaves a side open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repetition_time_ms: tuple[float | None, float | None]
    echo_time_ms: tuple[float | None, float | None]

    def holds(self, repetition_ms: float, echo_ms: float) -> bool:
        def inside(value: float, bounds: tuple[float | None, float | None]) -> bool:
            return (bounds[0] is None or value >= bounds[0]) and (bounds[1] is None or value <= bounds[1])

        return inside(repetition_ms, self.repetition_time_ms) and inside(echo_ms, self.echo_time_ms)


class SeriesRules(BaseModel):
    """Which series of a study a recipe reads, and how weightings are recognised."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    modality: str = "MR"
    weighting: str = Field(description="wanted weighting, one of T1, T2, PD, IR")
    orientation: str = Field(description="wanted plane: axial, coronal or sagittal")
    min_images: int = Field(1, ge=1)
    timing: dict[str, TimingWindow] = Field(description="spin-echo TR / TE windows per weighting")
    description_patterns: dict[str, str] = Field(description="regular expression per weighting, searched "
                                                             "in SeriesDescription ignoring case")
    level_tag: str = Field("ImageComments", description="DICOM keyword whose text holds the disc level")


def load_series_rules(name_or_path: str | os.PathLike[str] = "lumbar-t2-axial") -> SeriesRules:
    """Rules from a YAML file, or bundled ones by name (``recipes/series/<name>.yaml``)."""
    from importlib import resources

    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise RecipeError(f"{path}: series rules file not found")
        where, text = str(path), path.read_text()
    else:
        where = f"{name_or_path}.yaml"
        bundled = resources.files("radiomark.recipes").joinpath("series", where)
        if not bundled.is_file():
            raise RecipeError(f"no bundled series rules named {str(name_or_path)!r}")
        text = bundled.read_text()
    try:
        return SeriesRules.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as error:
        first = str(error).splitlines()
        raise RecipeError(f"{where}: invalid series rules ({' '.join(first[:3])})") from None


@dataclass(frozen=True)
class Weighting:
    """A weighting guess and the evidence for it."""

    guess: str
    reason: str


def _from_description(description: str, rules: SeriesRules) -> list[str]:
    return [name for name, pattern in rules.description_patterns.items()
            if re.search(pattern, description, flags=re.IGNORECASE)]


def guess_weighting(series: DicomSeries, scanning_sequence: str, rules: SeriesRules) -> Weighting:
    """The series' weighting: inversion recovery from ScanningSequence, else the spin-echo TR/TE
    window it falls in, else its description; disagreements are named in the reason."""
    named = _from_description(series.description, rules)
    said = f"description '{series.description}' says {'/'.join(named)}" if named else ""
    sequences = set(scanning_sequence.upper().split("\\"))
    if "IR" in sequences:
        return Weighting("IR", f"ScanningSequence {scanning_sequence} has an inversion pulse")
    te, tr = series.echo_time_ms, series.repetition_time_ms
    if te is not None and tr is not None and "GR" not in sequences:
        timed = [name for name, window in rules.timing.items() if window.holds(tr, te)]
        if len(timed) == 1:
            disagrees = f"; {said}, overruled" if named and timed[0] not in named else ""
            return Weighting(timed[0], f"TR {tr:g} ms, TE {te:g} ms{disagrees}")
        timing = f"TR {tr:g} ms, TE {te:g} ms fit {'/'.join(timed) or 'no'} spin-echo window"
    elif "GR" in sequences:
        timing = "gradient echo: TR/TE do not set the weighting"
    else:
        timing = "no EchoTime/RepetitionTime"
    if len(named) == 1:
        return Weighting(named[0], f"{timing}; {said}")
    return Weighting("unknown", f"{timing}; {said or 'description names no weighting'}")


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


@dataclass(frozen=True)
class SeriesVerdict:
    """Whether a series was chosen for its study, and why."""

    series: DicomSeries
    scanning_sequence: str
    age_years: float | None
    sex: str
    weighting: Weighting
    chosen: bool
    reason: str
    levels: tuple[str, ...]


def disc_level(text: str) -> str:
    """``"L4-L5"`` from texts such as ``"L4/5"``, ``"l4-l5 disc"`` or ``"L5 S1"``; ``""`` if none."""
    match = _LEVEL.search(text)
    if match is None:
        return ""
    upper, lower = match.group(1).upper(), match.group(2).upper()
    return f"{upper}-{lower if lower[0] in 'LS' else 'L' + lower}"


def _scanning_sequence(value: Any) -> str:
    """ScanningSequence as ``"SE"`` or ``"SE\\IR"`` (pydicom gives a string or a multi-value)."""
    if value is None or isinstance(value, str):
        return value or ""
    return "\\".join(map(str, value))


def _failed(series: DicomSeries, weighting: Weighting, rules: SeriesRules) -> list[str]:
    failed = []
    if series.modality.upper() != rules.modality.upper():
        failed.append(f"modality {series.modality}, not {rules.modality}")
    if weighting.guess != rules.weighting:
        failed.append(f"weighting {weighting.guess} ({weighting.reason}), not {rules.weighting}")
    if str(series.orientation or "unknown") != rules.orientation:
        failed.append(f"orientation {series.orientation or 'unknown'}, not {rules.orientation}")
    if series.n_slices < rules.min_images:
        failed.append(f"{series.n_slices} image(s), fewer than {rules.min_images}")
    if any(p.kind is ProblemKind.NO_SPACING for p in series.problems):
        failed.append("no PixelSpacing")
    return failed


def judge_series(found: list[DicomSeries], rules: SeriesRules) -> list[SeriesVerdict]:
    """A verdict for every series: per study, the series that meet every rule compete, and the one
    with the most images at a disc level (then the most images) is chosen."""
    verdicts: list[SeriesVerdict] = []
    by_study: dict[str, list[SeriesVerdict]] = defaultdict(list)
    for series in found:
        headers = [read_dataset(f.path, stop_before_pixels=True) for f in series.files]
        sequence = _scanning_sequence(headers[0].get("ScanningSequence", ""))
        weighting = guess_weighting(series, sequence, rules)
        levels = tuple(disc_level(str(h.get(rules.level_tag, ""))) for h in headers)
        failed = _failed(series, weighting, rules)
        age, sex = age_in_years(str(headers[0].get("PatientAge", ""))), str(headers[0].get("PatientSex", ""))
        verdict = SeriesVerdict(series, sequence, age, sex, weighting, False, "; ".join(failed), levels)
        verdicts.append(verdict)
        if not failed:
            by_study[series.study_uid].append(verdict)
    chosen = {}
    for study, candidates in by_study.items():
        ranked = sorted(candidates, key=lambda v: (sum(map(bool, v.levels)), v.series.n_slices), reverse=True)
        chosen[study] = ranked[0].series.series_uid
    result = []
    for verdict in verdicts:
        series = verdict.series
        if verdict.reason:
            result.append(verdict)
            continue
        winner = chosen[series.study_uid]
        at_levels = sum(map(bool, verdict.levels))
        if series.series_uid == winner:
            rivals = len(by_study[series.study_uid]) - 1
            reason = (f"chosen: {rules.name} ({verdict.weighting.reason}); {at_levels} image(s) at a disc level"
                      + (f"; preferred over {rivals} other matching series" if rivals else ""))
            result.append(replace(verdict, chosen=True, reason=reason))
        else:
            result.append(replace(verdict, reason=f"meets the rules, but series …{winner[-12:]} has more images "
                                                  "at disc levels"))
    return result


def index_studies(path: str | os.PathLike[str], rules: SeriesRules,
                  progress: ProgressCallback | None = None) -> tuple[list[IndexRow], list[SeriesVerdict]]:
    """Index every image under ``path`` (DICOM, searched recursively)."""
    verdicts = judge_series(scan_dicom(path, progress), rules)
    rows = []
    for verdict in verdicts:
        series = verdict.series
        for file, level in zip(series.files, verdict.levels, strict=True):
            rows.append(IndexRow(
                patient=series.patient_id, patient_age_years=verdict.age_years, patient_sex=verdict.sex,
                study=series.study_uid, series=series.series_uid,
                description=series.description, modality=series.modality,
                orientation=str(series.orientation or "unknown"), echo_time_ms=series.echo_time_ms,
                repetition_time_ms=series.repetition_time_ms, scanning_sequence=verdict.scanning_sequence,
                weighting=verdict.weighting.guess, weighting_reason=verdict.weighting.reason,
                instance=file.instance_number, disc_level=level, chosen=verdict.chosen, reason=verdict.reason,
                path=str(file.path)))
    return rows, verdicts


def write_index(rows: list[IndexRow], out: str | os.PathLike[str]) -> Path:
    """The index as CSV, written atomically."""
    return write_csv([asdict(row) for row in rows], out)
