"""CSV tables written atomically."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from radiomark.io.atomic import atomic_file

#: First characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula, prefixed with ``'``; numbers as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` with a header holding every key that appears in any row (in first-seen order).
    Text cells that a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` …) get a
    leading ``'`` (CSV formula injection); numbers are written as they are."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_file(path) as temporary, open(temporary, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return Path(path)
