"""Which series of a study a recipe reads: one rules engine for every recipe (recipe data, the
``series:`` section of each ``recipe.yaml``; ``recipes/series/*.yaml`` for rules shared by name).

A series is first **refused** or not: wrong modality, a LOCALIZER (or another refused ImageType),
the wrong plane (from ImageOrientationPatient), a slice thickness outside the recipe's window,
too few images, the wrong MR weighting, a condition of ``require`` (the ``--select`` language of
:mod:`radiomark.io.selection`: ``field=value``, ``field=~regex``, ``!=``, ``!~``) that does not
hold, or no PixelSpacing where the measures need millimetres. The series left **compete** per study
by the recipe's ``prefer`` list, in order; the first preference that separates two series decides:

``original``
    ImageType ORIGINAL / PRIMARY over DERIVED / SECONDARY / REFORMATTED (reconstructions copy and
    resample the original).
``thinnest`` / ``thickest``
    slice thickness (SliceThickness, else the slice spacing), mm.
``soft_kernel``
    a CT kernel matching ``soft_kernel`` over one matching ``sharp_kernel`` (bone, lung), the rest
    in between.
``body_part``
    BodyPartExamined matching ``body_part``.
``contrast_phase``
    the CT contrast phase (named in SeriesDescription, else "contrast" when ContrastBolusAgent is
    recorded, else "unknown") earliest in ``contrast_phases``.
``coverage``
    extent along the slice normal, mm (slices × spacing).
``most_images``
    number of images.
``level_images``
    images whose ``level_tag`` holds a disc level (lumbar MRI).
``description``
    SeriesDescription matching ``description`` — the last tie-breaker, since sites name series freely.

MR weighting comes first from the physics the scanner recorded — RepetitionTime and EchoTime of a
spin-echo sequence, an inversion pulse in ScanningSequence — and the description only decides where
those are missing or ambiguous; a description that contradicts the timing is named in the reason.
Every series gets a verdict with the reason it was chosen, refused, or beaten (and by which
series, on which preference).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydicom.dataset import Dataset

from radiomark.errors import InputError, RecipeError
from radiomark.io.dicom import DicomSeries, ProblemKind, age_in_years, read_dataset
from radiomark.recipes.series_schema import SeriesRules, SeriesSelector, inside

#: ImageType values of a reconstruction made from another series.
DERIVED_TYPES = frozenset({"DERIVED", "SECONDARY", "REFORMATTED", "MPR", "PROJECTION IMAGE", "MIP"})
_LEVEL = re.compile(r"\b(L[1-5]|T1[0-2])\s*[-/ ]?\s*(L?[1-5]|S1)\b", re.IGNORECASE)


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
    except (ValidationError, yaml.YAMLError, InputError) as error:
        first = str(error).splitlines()
        raise RecipeError(f"{where}: invalid series rules ({' '.join(first[:3])})") from None


@dataclass(frozen=True)
class Weighting:
    """A weighting guess and the evidence for it."""

    guess: str
    reason: str


def guess_weighting(series: DicomSeries, scanning_sequence: str, rules: SeriesRules) -> Weighting:
    """The series' weighting: inversion recovery from ScanningSequence, else the spin-echo TR/TE
    window it falls in, else its description; disagreements are named in the reason."""
    named = [name for name, pattern in rules.description_patterns.items()
             if re.search(pattern, series.description, flags=re.IGNORECASE)]
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


def disc_level(text: str) -> str:
    """``"L4-L5"`` from texts such as ``"L4/5"``, ``"l4-l5 disc"`` or ``"L5 S1"``; ``""`` if none."""
    match = _LEVEL.search(text)
    if match is None:
        return ""
    upper, lower = match.group(1).upper(), match.group(2).upper()
    return f"{upper}-{lower if lower[0] in 'LS' else 'L' + lower}"


def thickness_mm(series: DicomSeries) -> float | None:
    """SliceThickness, else the distance between slice centres (mm)."""
    return series.slice_thickness_mm if series.slice_thickness_mm is not None else series.slice_spacing_mm


def _kernel_class(series: DicomSeries, rules: SeriesRules) -> int:
    if not series.kernel:
        return 1
    if re.search(rules.soft_kernel, series.kernel, flags=re.IGNORECASE):
        return 2
    return 0 if re.search(rules.sharp_kernel, series.kernel, flags=re.IGNORECASE) else 1


#: Per preference: the score (higher wins) and how the series' value reads in a reason.
_PREFERENCES: dict[str, Callable[[SeriesVerdict, SeriesRules], tuple[float, str]]] = {
    "original": lambda v, r: ((0.0, "DERIVED/SECONDARY") if DERIVED_TYPES & set(v.series.image_type)
                              else (1.0, "ORIGINAL")),
    "thinnest": lambda v, r: (-(thickness_mm(v.series) or 1e9), f"{thickness_mm(v.series) or '?'} mm slices"),
    "thickest": lambda v, r: (thickness_mm(v.series) or 0.0, f"{thickness_mm(v.series) or '?'} mm slices"),
    "soft_kernel": lambda v, r: (float(_kernel_class(v.series, r)),
                                 f"kernel {v.series.kernel or 'not recorded'}"),
    "body_part": lambda v, r: (float(bool(r.body_part) and bool(re.search(r.body_part, v.series.body_part, re.I))),
                               f"body part {v.series.body_part or 'not recorded'}"),
    "contrast_phase": lambda v, r: (-float(r.contrast_phases.index(v.series.contrast_phase))
                                    if v.series.contrast_phase in r.contrast_phases else -99.0,
                                    f"contrast phase {v.series.contrast_phase.replace('_', ' ')}"),
    "coverage": lambda v, r: (v.series.n_slices * (v.series.slice_spacing_mm or 0.0),
                              f"{v.series.n_slices * (v.series.slice_spacing_mm or 0.0):.0f} mm covered"),
    "most_images": lambda v, r: (float(v.series.n_slices), f"{v.series.n_slices} image(s)"),
    "level_images": lambda v, r: (float(sum(map(bool, v.levels))), f"{sum(map(bool, v.levels))} image(s) at a "
                                                                   "disc level"),
    "description": lambda v, r: (float(bool(r.description) and bool(re.search(r.description, v.series.description,
                                                                               re.I))),
                                 f"description '{v.series.description}'"),
}


@dataclass(frozen=True)
class SeriesVerdict:
    """Whether a series was chosen for its study, and why."""

    series: DicomSeries
    chosen: bool
    reason: str
    weighting: Weighting | None = None
    scanning_sequence: str = ""
    age_years: float | None = None
    sex: str = ""
    levels: tuple[str, ...] = ()
    #: Whether a rule refused the series (rather than another series beating it).
    refused: bool = False


def _refusals(series: DicomSeries, weighting: Weighting | None, rules: SeriesRules,
              required: Sequence[SeriesSelector]) -> list[str]:
    failed = []
    if rules.modality and series.modality.upper() not in {m.upper() for m in rules.modality}:
        failed.append(f"modality {series.modality or 'none'}, not {'/'.join(rules.modality)}")
    refused_types = set(series.image_type) & {t.upper() for t in rules.refuse_image_types}
    if refused_types:
        failed.append(f"ImageType {'/'.join(sorted(refused_types))}")
    for selector in required:
        failed += [f"fails {rule}" for rule in selector.failed_rules(series)]
    if rules.weighting is not None and weighting is not None and weighting.guess != rules.weighting:
        failed.append(f"weighting {weighting.guess} ({weighting.reason}), not {rules.weighting}")
    if rules.orientation is not None and str(series.orientation or "unknown") != rules.orientation:
        failed.append(f"orientation {series.orientation or 'unknown'}, not {rules.orientation}")
    thickness = thickness_mm(series)
    if rules.slice_thickness_mm != (None, None) and series.n_slices > 1:
        low, high = rules.slice_thickness_mm
        if thickness is None or not inside(thickness, rules.slice_thickness_mm):
            failed.append(f"slice thickness {thickness if thickness is not None else 'unknown'} mm outside "
                          f"{low if low is not None else 0:g}–{high if high is not None else '∞'} mm")
    if series.n_slices < rules.min_images:
        failed.append(f"{series.n_slices} image(s), fewer than {rules.min_images}")
    if rules.needs_spacing and any(p.kind is ProblemKind.NO_SPACING for p in series.problems):
        failed.append("no PixelSpacing")
    return failed


def _first_verdict(series: DicomSeries, rules: SeriesRules, required: Sequence[SeriesSelector]) -> SeriesVerdict:
    wants_levels = "level_images" in rules.prefer
    needs_header = wants_levels or rules.weighting is not None
    headers = ([read_dataset(f.path, stop_before_pixels=True) for f in (series.files if wants_levels
                                                                         else series.files[:1])]
               if needs_header else [])
    first: Mapping[str, Any] | Dataset = headers[0] if headers else {}
    value = first.get("ScanningSequence", "")
    sequence = value if value is None or isinstance(value, str) else "\\".join(map(str, value))
    weighting = guess_weighting(series, sequence or "", rules) if rules.weighting is not None else None
    levels = tuple(disc_level(str(h.get(rules.level_tag, ""))) for h in headers) if wants_levels else ()
    age = age_in_years(str(first.get("PatientAge", ""))) if headers else None
    refusals = _refusals(series, weighting, rules, required)
    return SeriesVerdict(series, False, "; ".join(refusals), weighting, sequence or "", age,
                         str(first.get("PatientSex", "")) if headers else "", levels, refused=bool(refusals))


def _key(verdict: SeriesVerdict, rules: SeriesRules) -> tuple[float, ...]:
    return tuple(_PREFERENCES[name](verdict, rules)[0] for name in rules.prefer)


def _beaten(loser: SeriesVerdict, winner: SeriesVerdict, rules: SeriesRules) -> str:
    for name in rules.prefer:
        (mine, mine_text), (theirs, theirs_text) = (_PREFERENCES[name](loser, rules),
                                                    _PREFERENCES[name](winner, rules))
        if mine != theirs:
            return (f"meets the rules, but series …{winner.series.series_uid[-12:]} is preferred ({name}: "
                    f"{theirs_text} vs {mine_text})")
    return f"meets the rules, but ties with series …{winner.series.series_uid[-12:]}, which comes first by UID"


def _chosen_reason(winner: SeriesVerdict, rivals: int, rules: SeriesRules) -> str:
    facts = [_PREFERENCES[name](winner, rules)[1] for name in rules.prefer]
    if winner.weighting is not None:
        facts.insert(0, f"{winner.weighting.guess}: {winner.weighting.reason}")
    told = f"; preferred over {rivals} other matching series" if rivals else ""
    return f"chosen by rules '{rules.name}': {', '.join(dict.fromkeys(facts))}{told}"


def judge_series(found: Sequence[DicomSeries], rules: SeriesRules) -> list[SeriesVerdict]:
    """A verdict for every series (in the order given): per study, the series no rule refuses
    compete by ``rules.prefer`` and the best one is chosen (see the module docstring)."""
    required = [SeriesSelector.parse(condition) for condition in rules.require]
    verdicts = [_first_verdict(series, rules, required) for series in found]
    by_study: dict[str, list[SeriesVerdict]] = defaultdict(list)
    for verdict in verdicts:
        if not verdict.refused:
            by_study[verdict.series.study_uid].append(verdict)
    winners = {study: sorted(candidates, key=lambda v: (tuple(-k for k in _key(v, rules)), v.series.series_uid))[0]
               for study, candidates in by_study.items()}
    result = []
    for verdict in verdicts:
        winner = winners.get(verdict.series.study_uid)
        if verdict.refused or winner is None:
            result.append(verdict)
        elif winner is verdict:
            rivals = len(by_study[verdict.series.study_uid]) - 1
            result.append(replace(verdict, chosen=True, reason=_chosen_reason(verdict, rivals, rules)))
        else:
            result.append(replace(verdict, reason=_beaten(verdict, winner, rules)))
    return result


@dataclass(frozen=True)
class SeriesChoice:
    """The series a case reads (several for the echoes of one acquisition) and every verdict."""

    chosen: tuple[DicomSeries, ...]
    reason: str
    verdicts: tuple[SeriesVerdict, ...]

    def record(self) -> dict[str, Any]:
        """What ``measurements.json`` and the report keep: the chosen series and why, and why each
        other series was not taken."""
        first = self.chosen[0]
        chosen_uids = {s.series_uid for s in self.chosen}
        return {"uid": first.series_uid, "description": first.description, "why": self.reason,
                "echo_series": [s.series_uid for s in self.chosen] if len(self.chosen) > 1 else [],
                "not_chosen": [{"uid": v.series.series_uid, "description": v.series.description, "why": v.reason}
                               for v in self.verdicts if v.series.series_uid not in chosen_uids]}


def _listing(verdicts: Sequence[SeriesVerdict]) -> str:
    return "; ".join(f"…{v.series.series_uid[-12:]} '{v.series.description}' ({v.series.modality}, "
                     f"{v.series.n_slices} image(s)): {v.reason}" for v in verdicts)


def choose(found: Sequence[DicomSeries], rules: SeriesRules, where: str, *, echo_set: bool = False) -> SeriesChoice:
    """The series of one study that ``rules`` choose. With ``echo_set``, the chosen series and the
    other series of the same acquisition that no rule refuses (same study, grid and slice count,
    distinct EchoTimes) are returned in echo-time order. Raises :class:`InputError` naming every
    series and its verdict when none qualifies, and when the input holds several studies."""
    studies = {series.study_uid for series in found}
    if len(studies) > 1:
        raise InputError(where, f"holds {len(studies)} studies; give the folder above them to run one case per "
                                "study, or one study's folder")
    verdicts = judge_series(found, rules)
    winners = [v for v in verdicts if v.chosen]
    if not winners:
        raise InputError(where, f"no series meets the rules of {rules.name or 'the recipe'}: {_listing(verdicts)}")
    winner = winners[0].series
    chosen: tuple[DicomSeries, ...] = (winner,)
    if echo_set:
        echoes = [v.series for v in verdicts if not v.refused and v.series.echo_time_ms is not None
                  and (v.series.size, v.series.n_slices) == (winner.size, winner.n_slices)]
        times = [s.echo_time_ms for s in echoes]
        if len(echoes) > 1 and len(set(times)) == len(times):
            chosen = tuple(sorted(echoes, key=lambda s: s.echo_time_ms or 0.0))
    reason = winners[0].reason + (f"; {len(chosen)} echoes of one acquisition, by EchoTime" if len(chosen) > 1 else "")
    return SeriesChoice(chosen, reason, tuple(verdicts))
