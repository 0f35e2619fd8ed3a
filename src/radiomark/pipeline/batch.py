"""A run over one study or a cohort folder: study discovery, one case id per study, resume,
failures that do not stop the others, and the cohort tables.

In a cohort, a study that fails is recorded in ``failures`` (and ``out/failures.csv``) and the
others go on; a single study that fails raises its error and writes nothing. With ``resume``,
studies whose outputs are already complete (``out/<case>/measurements.csv`` exists; outputs are
written atomically) are skipped and their rows reused in the cohort table.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radiomark.case import CaseResult, Failure
from radiomark.errors import InputError, RadiomarkError
from radiomark.io.dicom import scan_dicom
from radiomark.io.nifti import is_nifti_path
from radiomark.io.study import ECHO_FILE, LABELS_FILE
from radiomark.outputs.cohort import write_cohort


@dataclass(frozen=True)
class BatchResult:
    """What ``run`` produced: one result per study that worked, one failure per study that did not."""

    results: list[CaseResult]
    failures: list[Failure]
    cohort_csv: Path | None
    resumed: list[str]


def discover_studies(path: Path) -> list[Path]:
    """One study, or the studies of a cohort folder.

    ``path`` is one study when it is a file, when it holds NIfTI files named ``echo<N>`` (the
    echoes of one acquisition), when it is a case folder (it holds ``labels.nii.gz``: the training
    layout) or when the DICOM under it belongs to a single StudyInstanceUID; otherwise each entry
    of the folder (a subfolder, a NIfTI or DICOM file) is a study of its own.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(path, "no such file or folder")
    if (path / LABELS_FILE).is_file() or any(entry.is_file() and is_nifti_path(entry) and ECHO_FILE.search(entry.name)
                                             for entry in path.iterdir()):
        return [path]
    try:
        studies = {series.study_uid for series in scan_dicom(path)}
    except InputError:
        studies = set()
    if len(studies) == 1:
        return [path]
    entries = sorted(p for p in path.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.is_file()))
    if not entries:
        raise InputError(path, "folder is empty")
    return entries


def case_id(study: Path) -> str:
    """The case folder name of ``study``: its file or folder name without image suffixes."""
    name = study.name
    for suffix in (".nii.gz", ".nii", ".dcm"):
        name = name.removesuffix(suffix)
    return name or "case"


def run_batch(studies: list[Path], out: Path, run_case: Callable[[Path, str], CaseResult], *, resume: bool = False,
              progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """``run_case(study, case_id)`` for every study (see the module docstring), then the cohort
    tables in ``out``."""
    results: list[CaseResult] = []
    failures: list[Failure] = []
    resumed: list[str] = []
    rows: list[dict[str, Any]] = []
    for index, study in enumerate(studies):
        name = case_id(study)
        done = out / name / "measurements.csv"
        if resume and done.is_file():
            with open(done, newline="") as stream:
                rows.extend(csv.DictReader(stream))
            resumed.append(name)
            continue
        try:
            written = run_case(study, name)
            results.append(written)
            rows.append(written.row())
        except RadiomarkError as error:
            if len(studies) == 1:
                raise  # a single study: a plain error, and nothing written
            failures.append(Failure(str(study), type(error).__name__, str(error)))
        if progress is not None:
            progress(index + 1, len(studies))
    cohort = write_cohort(rows, failures, out) if rows or failures else None
    return BatchResult(results, failures, cohort, resumed)
