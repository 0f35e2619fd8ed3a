"""A run over one study or a cohort folder: study discovery, one case id per study, resume,
failures that do not stop the others, and the cohort tables.

In a cohort, a study that fails is recorded in ``failures`` (and ``out/failures.csv``) and the
others go on; a single study that fails raises its error and writes nothing. With ``resume``,
studies whose outputs are already complete (``out/<case>/measurements.csv`` exists; outputs are
written atomically) are skipped and their rows reused in the cohort table.

Warnings raised by libraries during a run are not printed: they are gathered, summarised in
``BatchResult.warnings`` (one line per kind, with its count) and written to ``out/radiomark.log``
with one line per case (finding, flags) and per failure.

A cohort may run in worker processes (``workers``): each loads the models once (through a
picklable loader, in a fresh "spawn" process) and runs whole cases; results come back in study
order with the same failures, resume and atomic outputs. Each worker uses cores ÷ workers threads,
so the machine is busy without oversubscription. Ctrl-C lets the cases in progress finish (they
are kept) and cancels the rest.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radiomark.case import CaseResult, Failure, frame
from radiomark.errors import InputError, RadiomarkError
from radiomark.io.atomic import remove_stale_temporaries
from radiomark.io.dicom import DicomSeries, scan_dicom
from radiomark.io.nifti import is_nifti_path
from radiomark.io.raster import is_raster_path
from radiomark.io.study import ECHO_FILE, LABELS_FILE
from radiomark.outputs.cohort import write_cohort
from radiomark.outputs.options import WITHHELD


@dataclass(frozen=True)
class BatchResult:
    """What ``run`` produced: one result per study that worked, one failure per study that did not."""

    results: list[CaseResult]
    failures: list[Failure]
    cohort_csv: Path | None
    resumed: list[str]
    #: Library warnings of the run, one line per kind: "Category: message (× count)".
    warnings: list[str] = field(default_factory=list)

    def to_frame(self) -> Any:
        """One row per case (:meth:`CaseResult.row`) as a pandas DataFrame (``radiomark[frames]``)."""
        return frame([result.row() for result in self.results])


@dataclass(frozen=True)
class Study:
    """One study of a run: its path and, when discovery already read their headers, its DICOM
    series (so that no study is scanned twice)."""

    path: Path
    series: tuple[DicomSeries, ...] | None = None
    #: The case name when the path alone does not tell studies apart (several studies in one folder).
    name: str | None = None


def _files_under(series: DicomSeries, entry: Path) -> list[bool]:
    """For each file of ``series``: whether it is ``entry`` or lies under it."""
    return [entry == file.path or entry in file.path.parents for file in series.files]


def _slices(series: DicomSeries) -> bool:
    """Whether the files of ``series`` are slices of one volume: distinct SOP instances of one size at
    distinct positions (files that merely share a SeriesInstanceUID — copies, or unrelated objects
    with a reused UID — are not)."""
    files = series.files
    positions = [file.position for file in files]
    return (len({file.sop_instance_uid for file in files}) == len(files) and None not in positions
            and len(set(positions)) == len(files) and len({(f.rows, f.columns) for f in files}) == 1)


def discover_studies(path: Path) -> list[Study]:
    """One study, or the studies of a cohort folder.

    ``path`` is one study when it is a file, when it holds NIfTI files named ``echo<N>`` (the
    echoes of one acquisition), when it is a case folder (it holds ``labels.nii.gz``: the training
    layout) or when the DICOM under it belongs to a single StudyInstanceUID. Otherwise, when each
    entry of the folder holds whole studies, each entry (a subfolder, a NIfTI or DICOM file) is a
    study of its own; when studies are mixed in one folder or spread over several (PACS exports:
    DICOMDIR with numbered folders per series), each StudyInstanceUID is a case named by its
    PatientID and the end of its UID. A ``DICOMDIR`` file is an index, never a study. The DICOM
    series found while deciding go with the study they lie in.
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
    entries = sorted(p for p in path.iterdir() if not p.name.startswith(".") and p.name.upper() != "DICOMDIR"
                     and (p.is_dir() or p.is_file()))
    if not entries:
        raise InputError(path, "folder is empty")
    touching = {entry: [(series, _files_under(series, entry)) for series in found] for entry in entries}
    touching = {entry: [(series, under) for series, under in pairs if any(under)] for entry, pairs in touching.items()}
    whole = all(len({s.study_uid for s, _ in pairs}) <= 1 and all(all(under) or not _slices(s) for s, under in pairs)
                for pairs in touching.values())
    if whole:  # each entry one study (copies of one file in several entries stay apart and are read again)
        return [Study(entry, tuple(s for s, _ in touching[entry]) if all(all(u) for _, u in touching[entry])
                      and touching[entry] else None) for entry in entries]
    by_study: dict[str, list[DicomSeries]] = {}
    for series in found:
        by_study.setdefault(series.study_uid, []).append(series)
    studies = [Study(path, tuple(members), safe_component(f"{members[0].patient_id or 'patient'}-{uid[-8:]}"))
               for uid, members in by_study.items()]
    return studies + [Study(entry) for entry in entries if not touching[entry]
                      and (entry.is_dir() or is_nifti_path(entry) or is_raster_path(entry))]


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
    ids = [study.name or case_id(study.path) for study in studies]
    repeated = {name for name in ids if ids.count(name) > 1}
    ids = [safe_component(study.path.name) if name in repeated and study.name is None else name
           for name, study in zip(ids, studies, strict=True)]
    seen: dict[str, int] = {}
    unique = []
    for name in ids:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if ids.count(name) == 1 else f"{name}-{seen[name]}")
    return unique


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: the cases finished before it are kept (and listed in the cohort
    table); ``batch`` says what was done."""

    def __init__(self, batch: BatchResult) -> None:
        super().__init__(f"interrupted after {len(batch.results)} case(s)")
        self.batch = batch


@contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold a lock on the folder ``out`` for a run: another run into the same folder is refused,
    never interleaved. The lock (``flock`` on the folder) dies with its process, so a killed run
    leaves none; a folder this run created and left empty is removed again."""
    import fcntl

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    handle = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(out, "another radiomark run is writing into this folder; wait for it to finish or "
                                  "choose another --out") from None
        yield
    finally:
        os.close(handle)
        if created and not any(out.iterdir()):
            out.rmdir()


def _refuse_output_inside_inputs(studies: list[Study], out: Path) -> None:
    target = out.resolve()
    for study in studies:
        source = study.path.resolve()
        if source == target or source in target.parents or target in source.parents:
            raise InputError(out, f"the output folder would replace the input or lie within it ({study.path}); "
                                  "inputs are never written to: choose an --out outside the input")


def _as_error(error: OSError, out: Path) -> InputError:
    """A failed read or write (disk full, read-only folder, permission) as a one-line error."""
    return InputError(error.filename or out, f"cannot read or write ({error.strerror or error})")


def pseudonyms(names: list[str], out: Path) -> list[str]:
    """``case-<12 hex>`` for each case id: an HMAC-SHA256 of the id under a random key kept in
    ``out/.radiomark-pseudonym-key`` (created once, readable by its owner only), so the same study
    keeps its pseudonym across ``--resume`` while names that may carry patient data (folders named
    after the patient) never reach the outputs."""
    import hashlib
    import hmac
    import secrets

    key_file = out / PSEUDONYM_KEY
    if not key_file.is_file():
        out.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_bytes(32))
    key = key_file.read_bytes()
    return [f"case-{hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:12]}" for name in names]


#: The key of :func:`pseudonyms` in an output folder.
PSEUDONYM_KEY = ".radiomark-pseudonym-key"

#: How a run handles one case: ``run_case(study, case_id)`` writes ``out/case_id`` and returns its result.
RunCase = Callable[[Study, str], CaseResult]


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """Worker processes of a cohort when none are asked for: ``RADIOMARK_WORKERS`` when set, else
    one per core."""
    given = os.environ.get("RADIOMARK_WORKERS", "")
    if given:
        if not given.isdigit() or int(given) < 1:
            raise InputError(None, f"RADIOMARK_WORKERS must be a positive whole number, got {given!r}")
        return int(given)
    return available_cores()


def run_batch(studies: list[Study], out: Path, run_case: RunCase, *, resume: bool = False,
              pseudonymise: bool = False, progress: Callable[[int, int], None] | None = None,
              engine: Engine | None = None, loader: Callable[[], RunCase] | None = None) -> BatchResult:
    """``run_case(study, case_id)`` for every study (see the module docstring), then the cohort
    tables in ``out``. One run writes into ``out`` at a time; temporaries of killed runs are
    cleared first; an output folder inside an input (or the reverse) is refused. Ctrl-C stops after
    writing the cohort table of the cases done and raises :class:`BatchInterrupted`. With
    ``pseudonymise`` (``--anonymize``) case ids are :func:`pseudonyms` and failures name the case,
    not the study's path. With an ``engine`` of more than one worker (and more than one study to
    run) or a Dask one, the cases run there, each worker building its own ``run_case`` with
    ``loader()`` (picklable) once."""
    _refuse_output_inside_inputs(studies, out)
    try:
        with run_lock(out):
            remove_stale_temporaries(out)
            names = case_ids(studies)
            with _noted_interrupts() as interrupted, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                try:
                    batch = _run_locked(studies, pseudonyms(names, out) if pseudonymise else names, out,
                                        _interruptible(run_case, out, interrupted), resume, pseudonymise, progress,
                                        (engine or Engine(), loader), caught)
                except BatchInterrupted as stopped:
                    stopped.batch = write_run_log(stopped.batch, caught, out, pseudonymise)
                    raise
            return write_run_log(batch, caught, out, pseudonymise)
    except OSError as error:
        raise _as_error(error, out) from None


def write_run_log(batch: BatchResult, caught: list[warnings.WarningMessage], out: Path, pseudonymise: bool
                  ) -> BatchResult:
    """``out/radiomark.log`` (one line per case, failure and kind of library warning) and ``batch``
    with its warnings summarised. With ``pseudonymise`` a warning is named by its kind only: its
    text may quote an identifier."""
    kinds = Counter(f"{w.category.__name__}" + ("" if pseudonymise else f": {' '.join(str(w.message).split())}")
                    for w in caught)
    summary = [f"{kind} (× {count})" if count > 1 else kind for kind, count in kinds.items()]
    written = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [f"{written} radiomark run into {WITHHELD if pseudonymise else out}"]
    for result in batch.results:
        decision = "; ".join(f"{f.name}: {f.verdict}" for f in result.findings) or "no finding"
        lines.append(f"case {result.case_id}: {len(result.measurements)} measurements; {decision}"
                     + "".join(f"\n  QC: {flag}" for flag in result.flags))
    lines += [f"resumed {name}" for name in batch.resumed]
    lines += [f"failed {failure.study}: {failure.message}" for failure in batch.failures]
    lines += [f"warning {line}" for line in summary]
    (out / "radiomark.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return replace(batch, warnings=summary)


@contextmanager
def _noted_interrupts() -> Iterator[list[bool]]:
    """While a run lasts, Ctrl-C (SIGINT) is also noted in a flag (``[True]``) besides raising
    KeyboardInterrupt: native code that checks for signals during its work (SimpleITK filters,
    for one) may abort and swallow the exception, and the run must stop all the same."""
    import signal
    import threading

    noted = [False]
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def note(signum: int, frame: object) -> None:
        noted[0] = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def _interruptible(run_case: Callable[[Study, str], CaseResult], out: Path, interrupted: list[bool]
                   ) -> Callable[[Study, str], CaseResult]:
    """``run_case`` that stops the run when Ctrl-C came during the case even if the exception was
    swallowed on the way; the case written meanwhile is removed (it may be the work of an aborted
    filter) and is redone by ``--resume``."""
    def run(study: Study, name: str) -> CaseResult:
        try:
            result = run_case(study, name)
        except Exception:
            if interrupted[0]:  # the interrupt came back as another exception
                raise KeyboardInterrupt from None
            raise
        if interrupted[0]:
            shutil.rmtree(out / name, ignore_errors=True)
            raise KeyboardInterrupt
        return result

    return run


def _failure(error: Exception, study: Study, name: str, out: Path, pseudonymise: bool) -> tuple[Exception, Failure]:
    """The error a failed case is reported with (a failed read or write as a one-line error; under
    ``pseudonymise`` the case named, not the study's path, which may name the patient) and its
    :class:`Failure` record."""
    failure = _as_error(error, out) if isinstance(error, OSError) else error
    if pseudonymise:
        failure = InputError(name, failure.problem if isinstance(failure, InputError) else
                             f"failed ({type(error).__name__})")
    message = str(failure) if isinstance(failure, RadiomarkError) else f"{study.path}: internal error: {error!r}"
    return failure, Failure(WITHHELD if pseudonymise else str(study.path), type(error).__name__, message)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs before its first case: the picklable ``loader`` of ``run_case``, its
    thread count (None: the libraries' default), the output folder, ``pseudonymise``, and a
    ``key`` naming this run (a worker that served another run loads again)."""

    loader: Callable[[], RunCase]
    threads: int | None
    out: Path
    pseudonymise: bool
    key: str


#: What a worker process keeps between cases: its setup's key and ``run_case``.
_WORKER: dict[str, Any] = {}


def _prepare_worker(setup: WorkerSetup) -> None:
    """Before a worker's first case of a run: threads for ONNX Runtime, torch and SimpleITK, Ctrl-C
    left to the parent (a case in progress finishes; only where the case runs on the process's main
    thread), then the models, loaded once."""
    import signal
    import threading

    import SimpleITK as sitk

    from radiomark.inference.onnx import set_threads

    if _WORKER.get("key") == setup.key:
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if setup.threads is not None:
        set_threads(setup.threads)
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(setup.threads)
    _WORKER.update(key=setup.key, run_case=setup.loader())


def _worker_case(setup: WorkerSetup, study: Study, name: str
                 ) -> tuple[CaseResult | Failure, list[tuple[str, type[Warning]]]]:
    """One case in a worker: its result or its failure record (errors are not sent back: not every
    exception can be pickled), and the library warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            _prepare_worker(setup)
            outcome: CaseResult | Failure = _WORKER["run_case"](study, name)
        except Exception as error:  # noqa: BLE001  # in a cohort, one study's fault must not stop the others
            outcome = _failure(error, study, name, setup.out, setup.pseudonymise)[1]
    return outcome, [(str(w.message), w.category) for w in caught]


@dataclass(frozen=True)
class Engine:
    """Where the cases of a cohort run: ``local`` worker processes (``workers`` of them), or a
    ``dask`` cluster — the scheduler at ``cluster``, or a local one started for the run with
    ``workers`` worker processes (``pip install 'radiomark[cluster]'``)."""

    name: str = "local"
    workers: int = 1
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.name not in ("local", "dask"):
            raise InputError(None, f"unknown --engine {self.name!r}; use local or dask")
        if self.cluster is not None and self.name != "dask":
            raise InputError(None, "--cluster is the address of a Dask scheduler: give it with --engine dask")

    def parallel(self, studies: int) -> bool:
        """Whether ``studies`` cases run in workers (a Dask engine always does)."""
        return self.name == "dask" or min(self.workers, studies) > 1

    @contextmanager
    def executor(self, studies: int) -> Iterator[tuple[Any, int | None]]:
        """A ``concurrent.futures`` executor for the run and the threads each worker may use."""
        if self.name == "local":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            workers = min(self.workers, studies)
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                yield pool, max(1, available_cores() // workers)
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError(None, "--engine dask needs Dask: pip install 'radiomark[cluster]'") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Dask's start-up notices (ports, dashboards) are not the run's
            if self.cluster is not None:
                try:
                    client = Client(self.cluster, timeout="20s")
                except OSError as error:
                    raise InputError(None, f"cannot reach the Dask scheduler {self.cluster} ({error})") from None
                with client:
                    yield client.get_executor(), None
                return
            with LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as local, Client(local) as client:
                yield client.get_executor(), max(1, available_cores() // self.workers)


def _run_in_workers(todo: Sequence[tuple[int, Study, str]], engine: Engine, loader: Callable[[], RunCase], out: Path,
                    pseudonymise: bool, done: Callable[[int, CaseResult | Failure], None],
                    caught: list[warnings.WarningMessage]) -> None:
    """Run ``todo`` (index, study, case id) on ``engine``; ``done(index, outcome)`` as each case
    ends. Ctrl-C: the cases in progress finish and are reported, the rest are cancelled."""
    import pickle
    from concurrent.futures import as_completed
    from hashlib import sha256

    with engine.executor(len(todo)) as (pool, threads):
        setup = WorkerSetup(loader, threads, out, pseudonymise, sha256(pickle.dumps(loader)).hexdigest())
        futures = {pool.submit(_worker_case, setup, study, name): index for index, study, name in todo}
        reported: set[int] = set()

        def report(future: Any) -> None:
            outcome, raised = future.result()
            caught.extend(warnings.WarningMessage(message, category, "", 0) for message, category in raised)
            reported.add(futures[future])
            done(futures[future], outcome)

        try:
            for future in as_completed(futures):
                report(future)
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            for future, index in futures.items():
                if index not in reported and not future.cancelled():
                    try:
                        future.result()
                    except Exception:  # noqa: BLE001,S112  # a case that did not finish is not reported
                        continue
                    report(future)
            raise


def _run_locked(studies: list[Study], names: list[str], out: Path, run_case: RunCase, resume: bool,
                pseudonymise: bool, progress: Callable[[int, int], None] | None,
                parallel: tuple[Engine, Callable[[], RunCase] | None], caught: list[warnings.WarningMessage]
                ) -> BatchResult:
    slots: list[CaseResult | Failure | list[dict[str, Any]] | None] = [None] * len(studies)
    resumed: list[str] = []
    todo = []
    for index, (study, name) in enumerate(zip(studies, names, strict=True)):
        done = out / name / "measurements.csv"
        if resume and done.is_file():
            with open(done, newline="") as stream:
                slots[index] = list(csv.DictReader(stream))
            resumed.append(name)
        else:
            todo.append((index, study, name))
    finished = [0]

    def record(index: int, outcome: CaseResult | Failure) -> None:
        slots[index] = outcome
        finished[0] += 1
        if progress is not None:
            progress(len(resumed) + finished[0], len(studies))

    engine, loader = parallel
    try:
        if loader is not None and engine.parallel(len(todo)) and todo:
            _run_in_workers(todo, engine, loader, out, pseudonymise, record, caught)
        else:
            for index, study, name in todo:
                try:
                    outcome: CaseResult | Failure = run_case(study, name)
                except Exception as error:  # noqa: BLE001  # in a cohort, one study's fault must not stop the others
                    failure, outcome = _failure(error, study, name, out, pseudonymise)
                    if len(studies) == 1:  # a single study: a plain error, and nothing written
                        if failure is error:
                            raise
                        raise failure from None
                record(index, outcome)
    except KeyboardInterrupt:
        raise BatchInterrupted(_gathered(slots, resumed, out)) from None
    return _gathered(slots, resumed, out)


def _gathered(slots: Sequence[CaseResult | Failure | list[dict[str, Any]] | None], resumed: list[str], out: Path
              ) -> BatchResult:
    """Results and failures in study order, and the cohort table of every finished or resumed study
    (``slots``: a result, a failure, or the resumed study's rows)."""
    rows = [row for slot in slots if slot is not None and not isinstance(slot, Failure)
            for row in (slot if isinstance(slot, list) else [slot.row()])]
    failures = [slot for slot in slots if isinstance(slot, Failure)]
    cohort = write_cohort(rows, failures, out) if rows or failures else None
    return BatchResult([slot for slot in slots if isinstance(slot, CaseResult)], failures, cohort, resumed)
