"""Choosing a series by rules on its tags, e.g. ``"modality=MR,description=~T2,orientation=axial"``.

A rule is ``field=value`` (equal, ignoring case) or ``field=~regex`` (the regular expression is
searched in the value, ignoring case); ``field!=value`` and ``field!~regex`` hold where those do
not. All rules must hold. The fields are the keys of :data:`SELECTOR_FIELDS`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from radiomark.errors import InputError
from radiomark.io.dicom import DicomSeries

SELECTOR_FIELDS: dict[str, Callable[[DicomSeries], object]] = {
    "modality": lambda s: s.modality,
    "description": lambda s: s.description,
    "orientation": lambda s: s.orientation,
    "patient": lambda s: s.patient_id,
    "study": lambda s: s.study_uid,
    "series": lambda s: s.series_uid,
    "echo_time_ms": lambda s: s.echo_time_ms,
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
        """Whether ``series`` satisfies the rule."""
        found = SELECTOR_FIELDS[self.field](series)
        text = "" if found is None else str(found)
        if self.is_regex:
            matches = re.search(self.value, text, flags=re.IGNORECASE) is not None
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


def describe_series(series: DicomSeries) -> str:
    """A short human description used in messages."""
    echo = f", TE {series.echo_time_ms:g} ms" if series.echo_time_ms is not None else ""
    return (f"{series.series_uid} ({series.modality}, '{series.description}', {series.orientation or '?'}, "
            f"{series.n_slices} slice(s){echo})")


def choose_series(found: Sequence[DicomSeries], where: str, *, series_uid: str | None = None,
                  selector: SeriesSelector | None = None) -> DicomSeries:
    """Pick exactly one series by UID, by ``selector``, or because it is the only one.

    Raises :class:`InputError` listing the candidates when none or several match.
    """
    if series_uid is not None:
        candidates = [s for s in found if s.series_uid == series_uid]
        if not candidates and len(series_uid.lstrip("…")) >= 6:  # a unique ending, as `info` shows it
            candidates = [s for s in found if s.series_uid.endswith(series_uid.lstrip("…"))]
        wanted = f"series UID {series_uid}"
    elif selector is not None:
        candidates = [s for s in found if not selector.failed_rules(s)]
        wanted = f"selection '{selector}'"
    else:
        candidates, wanted = list(found), "a single series"
    if len(candidates) == 1:
        return candidates[0]
    listing = "; ".join(describe_series(s) for s in (candidates or found))
    if not candidates:
        raise InputError(where, f"no series matches {wanted}; found: {listing}")
    raise InputError(where, f"{len(candidates)} series match {wanted}; choose one with --series UID or "
                            f"--select rules: {listing}")
