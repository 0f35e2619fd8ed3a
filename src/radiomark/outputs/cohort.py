"""The cohort outputs of a run: ``cohort.csv``, ``cohort.html`` and ``failures.csv``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from radiomark.case import Failure
from radiomark.io.tables import write_csv
from radiomark.outputs.html import write_cohort_report


def write_cohort(rows: list[dict[str, Any]], failures: list[Failure], out: Path) -> Path:
    """``out/cohort.csv``, ``out/cohort.html`` (with the distributions from two cases on) and
    ``out/failures.csv`` when some studies failed."""
    write_csv(rows, out / "cohort.csv")
    write_cohort_report(rows, [asdict(failure) for failure in failures], out)
    if failures:
        write_csv([asdict(failure) for failure in failures], out / "failures.csv")
    else:
        (out / "failures.csv").unlink(missing_ok=True)  # from an earlier run whose failures are now fixed
    return out / "cohort.csv"
