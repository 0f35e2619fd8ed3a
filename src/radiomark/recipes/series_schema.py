"""What a recipe says about its input series, as data: the selection language of ``--select``
and the
series rules of a recipe's ``series:`` section. The engine that applies them to DICOM headers is
:mod:`radiomark.io.series_rules`.

A condition is ``field=value`` (equal, ignoring case) or ``field=~regex`` (the regular expression
is searched in the value, ignoring case); ``field!=value`` and ``field!~regex`` hold where those do
not. Conditions are separated by commas and all must hold. The fields are the keys of
:data:`SELECTOR_FIELDS`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from radiomark.errors import InputError

if TYPE_CHECKING:
    from radiomark.io.dicom import DicomSeries

SELECTOR_FIELDS: dict[str, Callable[[DicomSeries], object]] = {
    "modality": lambda s: s.modality,
    "description": lambda s: s.description,
    "orientation": lambda s: s.orientation,
    "patient": lambda s: s.patient_id,
    "study": lambda s: s.study_uid,
    "series": lambda s: s.series_uid,
    "echo_time_ms": lambda s: s.echo_time_ms,
    "image_type": lambda s: "\\".join(s.image_type),
    "slice_thickness_mm": lambda s: s.slice_thickness_mm,
    "kernel": lambda s: s.kernel,
    "body_part": lambda s: s.body_part,
    "contrast_phase": lambda s: s.contrast_phase,
}


#: ``field`` ``operator`` ``value``; the operator is ``=``, ``=~``, ``!=`` or ``!~``.
_RULE = re.compile(r"\s*(\w+)\s*(=~|!~|!=|=)(.*)")


@dataclass(frozen=True)
class SeriesRule:
    """One ``field=value`` or ``field=~regex`` condition, or its negation (``!=``, ``!~``)."""

    field: str
    value: str
    is_regex: bool
    negated: bool = False

    def __post_init__(self) -> None:
        if self.field not in SELECTOR_FIELDS:
            close = difflib.get_close_matches(self.field, SELECTOR_FIELDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(None, f"unknown series field {self.field!r} in a selection rule "
                                   f"(fields: {', '.join(SELECTOR_FIELDS)}){hint}")
        if self.is_regex:
            try:
                re.compile(self.value)
            except re.error as error:
                raise InputError(None, f"invalid regular expression {self.value!r} for {self.field}: {error}") from None

    def holds(self, series: DicomSeries) -> bool:
        """Whether ``series`` satisfies the rule (numbers compare as numbers: ``5`` equals ``5.0``)."""
        found = SELECTOR_FIELDS[self.field](series)
        text = "" if found is None else str(found)
        if self.is_regex:
            matches = re.search(self.value, text, flags=re.IGNORECASE) is not None
        elif isinstance(found, int | float):
            try:
                matches = abs(float(found) - float(self.value)) < 1e-6
            except ValueError:
                matches = False
        else:
            matches = text.casefold() == self.value.casefold()
        return matches != self.negated

    def __str__(self) -> str:
        operator = {(False, False): "=", (False, True): "=~", (True, False): "!=", (True, True): "!~"}
        return f"{self.field}{operator[self.negated, self.is_regex]}{self.value}"


@dataclass(frozen=True)
class SeriesSelector:
    """All-of rules that pick one series; build it with :meth:`parse`."""

    rules: tuple[SeriesRule, ...]

    @classmethod
    def parse(cls, text: str) -> SeriesSelector:
        """Parse comma-separated rules such as ``"modality=MR,description=~T2,description!~qsm"``."""
        rules = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = _RULE.fullmatch(part)
            if match is None:
                raise InputError(None, f"selection rule {part!r} is not of the form field=value, field=~regex, "
                                       "field!=value or field!~regex")
            field, operator, value = match.groups()
            rules.append(SeriesRule(field.lower(), value.strip(), "~" in operator, operator.startswith("!")))
        if not rules:
            raise InputError(None, f"empty series selection {text!r}")
        return cls(tuple(rules))

    def failed_rules(self, series: DicomSeries) -> list[SeriesRule]:
        """The rules ``series`` does not satisfy (empty when it is selected)."""
        return [rule for rule in self.rules if not rule.holds(series)]

    def __str__(self) -> str:
        return ",".join(str(rule) for rule in self.rules)


#: Weightings told apart; ``IR`` is any inversion-recovery image (STIR, FLAIR, TIRM).
WEIGHTINGS = ("T1", "T2", "PD", "IR", "unknown")
#: CT contrast phases told apart (:attr:`radiomark.io.dicom.DicomSeries.contrast_phase`).
CONTRAST_PHASE_NAMES = ("non_contrast", "arterial", "portal_venous", "delayed", "contrast", "unknown")
Preference = Literal["original", "thinnest", "thickest", "soft_kernel", "body_part", "coverage", "most_images",
                     "level_images", "description", "contrast_phase"]


class TimingWindow(BaseModel):
    """Closed ranges of RepetitionTime and EchoTime (ms) that define a spin-echo weighting; ``None``
    leaves a side open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repetition_time_ms: tuple[float | None, float | None]
    echo_time_ms: tuple[float | None, float | None]

    def holds(self, repetition_ms: float, echo_ms: float) -> bool:
        return inside(repetition_ms, self.repetition_time_ms) and inside(echo_ms, self.echo_time_ms)


def inside(value: float, bounds: tuple[float | None, float | None]) -> bool:
    """Whether ``value`` lies in the closed range ``bounds`` (``None``: open on that side)."""
    return (bounds[0] is None or value >= bounds[0]) and (bounds[1] is None or value <= bounds[1])


class SeriesRules(BaseModel):
    """Which series of a study a recipe reads (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("", description="shown in reasons; defaults to the recipe's name")
    modality: tuple[str, ...] = Field((), description="accepted modalities (empty: any)")
    require: tuple[str, ...] = Field((), description="conditions in the --select language, all must hold")
    refuse_image_types: tuple[str, ...] = ("LOCALIZER",)
    orientation: str | None = Field(None, description="wanted plane: axial, coronal or sagittal")
    slice_thickness_mm: tuple[float | None, float | None] = Field((None, None), description="accepted window, mm")
    min_images: int = Field(1, ge=1)
    needs_spacing: bool = Field(True, description="refuse series without PixelSpacing")
    weighting: str | None = Field(None, description="wanted MR weighting, one of T1, T2, PD, IR")
    timing: dict[str, TimingWindow] = Field(default_factory=dict, description="spin-echo TR/TE windows per weighting")
    description_patterns: dict[str, str] = Field(default_factory=dict, description="regex per weighting, searched "
                                                                                   "in SeriesDescription")
    level_tag: str = Field("ImageComments", description="DICOM keyword whose text holds the disc level")
    soft_kernel: str = r"soft|standard|std|body|abd|B[1-4]\d|I[1-4]\d|Br[1-4]\d|FC0?[1-4]\d?\b|\bA\b|\bB\b"
    sharp_kernel: str = r"bone|lung|sharp|edge|detail|B[6-9]\d|I[6-9]\d|Br[6-9]\d|Bl\d|FC[5-9]\d|\bD\b|\bE\b|YC|YD"
    body_part: str = ""
    #: Contrast phases (:attr:`radiomark.io.dicom.DicomSeries.contrast_phase`) from most to least wanted.
    contrast_phases: tuple[str, ...] = ("portal_venous", "non_contrast", "contrast", "unknown", "delayed", "arterial")
    description: str = ""
    prefer: tuple[Preference, ...] = ("original", "most_images")

    @field_validator("modality", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("require")
    @classmethod
    def _parses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            SeriesSelector.parse(text)
        return value

    @field_validator("weighting")
    @classmethod
    def _known_weighting(cls, value: str | None) -> str | None:
        if value is not None and value not in WEIGHTINGS[:-1]:
            raise ValueError(f"weighting {value!r} is not one of {', '.join(WEIGHTINGS[:-1])}")
        return value

    @field_validator("contrast_phases")
    @classmethod
    def _known_phases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [phase for phase in value if phase not in CONTRAST_PHASE_NAMES]
        if unknown:
            raise ValueError(f"contrast phases {unknown} are not among {', '.join(CONTRAST_PHASE_NAMES)}")
        return value

    def with_selection(self, select: str | None = None, series_uid: str | None = None) -> SeriesRules:
        """These rules with the user's ``--select`` conditions and ``--series`` (a SeriesInstanceUID
        or a unique ending of at least 6 characters, as ``info`` shows it) added to ``require``."""
        added = []
        if series_uid is not None:
            ending = series_uid.strip().lstrip("…")
            if len(ending) < 6 or not re.fullmatch(r"[0-9.]+", ending):
                raise InputError(None, f"--series {series_uid!r} is not a SeriesInstanceUID or an ending of one "
                                       "(at least 6 digits and dots)")
            added.append(f"series=~{re.escape(ending)}$")
        if select:
            SeriesSelector.parse(select)
            added.append(select)
        return self.model_copy(update={"require": (*self.require, *added)}) if added else self


