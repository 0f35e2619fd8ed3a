"""The radiomark exception family.

Every error that bad input can cause is a :class:`RadiomarkError`; the CLI maps the family to a
one-line message and exit code 2. Each subclass also inherits the matching built-in so that
callers who catch ``ValueError`` or ``ImportError`` keep working.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from os import PathLike

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` with the closest of ``choices`` to ``word`` (case-insensitive),
    or ``""`` when none is close."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else ""


def one_line(text: str) -> str:
    """``text`` with control characters written as ``\\xNN`` (a file name with a newline stays one line)."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


class RadiomarkError(Exception):
    """Base class of every error radiomark raises on purpose."""


class InputError(RadiomarkError, ValueError):
    """An input file, folder or argument cannot be used as given."""

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = " ".join(problem.split())  # always one line, whatever a library reported
        super().__init__(self.problem if path is None else f"{one_line(str(path))}: {self.problem}")


class DicomError(InputError):
    """A DICOM file or series is unreadable or lacks what the task needs."""


class GeometryError(InputError):
    """Image geometry is inconsistent: missing or uneven slices, mixed orientations, no spacing."""


class RecipeError(RadiomarkError, ValueError):
    """A recipe name or recipe definition is invalid."""


class MissingDependencyError(RadiomarkError, ImportError):
    """An optional dependency needed for this feature is not installed."""
