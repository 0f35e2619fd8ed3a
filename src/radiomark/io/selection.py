"""Choosing one series by UID or by ``--select`` conditions, e.g.
``"modality=MR,description=~T2,orientation=axial"`` (the language of
:mod:`radiomark.recipes.series_schema`), for ``convert`` and training inputs; recipes choose their
series with :mod:`radiomark.io.series_rules`.
"""

from __future__ import annotations

from collections.abc import Sequence

from radiomark.errors import InputError
from radiomark.io.dicom import DicomSeries
from radiomark.recipes.series_schema import SeriesSelector


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
