"""A run over one study or a cohort folder: study discovery, one case id per study, resume,
failures that do not stop the others, and the cohort tables.

In a cohort, a study that fails is recorded in ``failures`` (and ``out/failures.csv``) and the
others go on; a single study that fails raises its error and writes nothing. With ``resume``,
studies whose outputs are already complete (``out/<case>/measurements.csv`` exists; outputs are
written atomically) are skipped and their rows reused in the cohort table.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radiomark.case import CaseResult, Failure
from radiomark.errors import InputError, RadiomarkError
from radiomark.io.dicom import DicomSeries, scan_dicom
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


@dataclass(frozen=True)
class Study:
    """One study of a run: its path and, when discovery already read their headers, its DICOM
    series (so that no study is scanned twice)."""

    path: Path
    series: tuple[DicomSeries, ...] | None = None


def _files_under(series: DicomSeries, entry: Path) -> list[bool]:
    """For each file of ``series``: whether it is ``entry`` or lies under it."""
    return [entry == file.path or entry in file.path.parents for file in series.files]


def discover_studies(path: Path) -> list[Study]:
    """One study, or the studies of a cohort folder.

    ``path`` is one study when it is a file, when it holds NIfTI files named ``echo<N>`` (the
    echoes of one acquisition), when it is a case folder (it holds ``labels.nii.gz``: the training
    layout) or when the DICOM under it belongs to a single StudyInstanceUID; otherwise each entry
    of the folder (a subfolder, a NIfTI or DICOM file) is a study of its own. The DICOM series
    found while deciding go with the study they lie in (unless a series spans several entries).
    """
    if path.is_file():
        return [Study(path)]
    if not path.is_dir():
        raise InputError(path, "no such file or folder")
    if (path / LABELS_FILE).is_file() or any(entry.is_file() and is_nifti_path(entry) and ECHO_FILE.search(entry.name)
                                             for entry in path.iterdir()):
        return [Study(path)]
    try:
        found = scan_dicom(path)
    except InputError:
        found = []
    if len({series.study_uid for series in found}) == 1:
        return [Study(path, tuple(found))]
    entries = sorted(p for p in path.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.is_file()))
    if not entries:
        raise InputError(path, "folder is empty")
    studies = []
    for entry in entries:
        touching = [(series, _files_under(series, entry)) for series in found]
        touching = [(series, under) for series, under in touching if any(under)]
        whole = bool(touching) and all(all(under) for _, under in touching)
        studies.append(Study(entry, tuple(series for series, _ in touching) if whole else None))
    return studies


def case_id(study: Path) -> str:
    """The case folder name of ``study``: its file or folder name without image suffixes, as one
    safe path component (never empty, ``.`` or ``..``; no separators or control characters)."""
    name = study.name or study.resolve().name
    if name in (".", ".."):
        name = study.resolve().name
    for suffix in (".nii.gz", ".nii", ".dcm"):
        name = name.removesuffix(suffix)
    return safe_component(name)


def safe_component(name: str) -> str:
    """``name`` as a single path component: separators and control characters become ``_``; an
    empty name, ``.`` or ``..`` becomes ``case``."""
    cleaned = re.sub(r"[\x00-\x1f\x7f/\\]", "_", name).strip()
    return "case" if cleaned in ("", ".", "..") else cleaned


def case_ids(studies: list[Study]) -> list[str]:
    """One case id per study, unique within the run and the same on every run over the same input:
    :func:`case_id`, or — for studies whose ids would collide (``x.dcm``, ``x.nii.gz`` and ``x/``) —
    each one's full file or folder name (unique within its folder), numbered if still equal."""
    ids = [case_id(study.path) for study in studies]
    repeated = {name for name in ids if ids.count(name) > 1}
    ids = [safe_component(study.path.name) if name in repeated else name for name, study in zip(ids, studies,
                                                                                                strict=True)]
    seen: dict[str, int] = {}
    unique = []
    for name in ids:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if ids.count(name) == 1 else f"{name}-{seen[name]}")
    return unique


def run_batch(studies: list[Study], out: Path, run_case: Callable[[Study, str], CaseResult], *, resume: bool = False,
              progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """``run_case(study, case_id)`` for every study (see the module docstring), then the cohort
    tables in ``out``."""
    results: list[CaseResult] = []
    failures: list[Failure] = []
    resumed: list[str] = []
    rows: list[dict[str, Any]] = []
    for index, (study, name) in enumerate(zip(studies, case_ids(studies), strict=True)):
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
        except Exception as error:  # noqa: BLE001  # in a cohort, one study's fault must not stop the others
            if len(studies) == 1:
                raise  # a single study: a plain error, and nothing written
            message = str(error) if isinstance(error, RadiomarkError) else f"{study.path}: internal error: {error!r}"
            failures.append(Failure(str(study.path), type(error).__name__, message))
        if progress is not None:
            progress(index + 1, len(studies))
    cohort = write_cohort(rows, failures, out) if rows or failures else None
    return BatchResult(results, failures, cohort, resumed)
