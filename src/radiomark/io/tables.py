"""CSV tables written atomically."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from radiomark.io.atomic import atomic_file


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` with a header holding every key that appears in any row (in first-seen order)."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_file(path) as temporary, open(temporary, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)
