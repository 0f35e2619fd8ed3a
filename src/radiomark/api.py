"""What the CLI does, as plain functions that return data and raise :class:`RadiomarkError`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radiomark.errors import InputError, did_you_mean
from radiomark.image import Image
from radiomark.io import read_image, write_image
from radiomark.io.dicom import ProgressCallback, scan_dicom
from radiomark.io.dimse import AE_TITLE
from radiomark.io.nifti import is_nifti_path
from radiomark.io.raster import is_raster_path
from radiomark.phantoms import PhantomCase, PhantomFormat, write_case
from radiomark.recipes import Stage
from radiomark.recipes.registry import look_up

if TYPE_CHECKING:
    from radiomark.case import CaseResult
    from radiomark.inference.predictor import Segmenter
    from radiomark.io.series_rules import SeriesVerdict
    from radiomark.pipeline.batch import BatchResult
    from radiomark.recipes.schema import Recipe
    from radiomark.recipes.series_schema import SeriesRules


@dataclass(frozen=True)
class SeriesSummary:
    """One row of ``radiomark info``: what a series (or image file) is and what is wrong with it."""

    path: str
    patient: str
    study: str
    series: str
    modality: str
    description: str
    orientation: str
    size_xyz: tuple[int, ...]
    spacing_xyz_mm: tuple[float, ...] | None
    slices: int
    problems: tuple[str, ...]


def _image_summary(path: Path, image: Image) -> SeriesSummary:
    return SeriesSummary(path=str(path), patient="", study="", series=path.name,
                         modality=str(image.metadata.get("modality", "")), description="",
                         orientation=str(image.orientation), size_xyz=image.shape[::-1],
                         spacing_xyz_mm=None if image.spacing_mm is None else image.spacing_mm[::-1],
                         slices=image.shape[0] if image.ndim == 3 else 1, problems=())


def info(path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> list[SeriesSummary]:
    """Summaries of the DICOM series under ``path``, or of one NIfTI/PNG/JPEG file.

    Sizes and spacings are listed in (x, y[, z]) = (column, row[, slice]) order, as viewers show
    them — the reverse of radiomark's array order.
    """
    source = Path(path)
    if source.is_file() and (is_nifti_path(source) or is_raster_path(source)):
        return [_image_summary(source, read_image(source))]
    rows = []
    for series in scan_dicom(source, progress):
        spacing: tuple[float, ...] | None = (None if series.pixel_spacing_mm is None
                                             else series.pixel_spacing_mm[::-1])
        if spacing is not None and series.slice_spacing_mm is not None:
            spacing = (*spacing, series.slice_spacing_mm)
        rows.append(SeriesSummary(
            path=str(series.folder), patient=series.patient_id, study=series.study_uid, series=series.series_uid,
            modality=series.modality, description=series.description,
            orientation=str(series.orientation or ""),
            size_xyz=(series.size[1], series.size[0], *((series.n_slices,) if series.n_slices > 1 else ())),
            spacing_xyz_mm=spacing, slices=series.n_slices, problems=tuple(p.message for p in series.problems)))
    return rows


def convert(path: str | os.PathLike[str], out: str | os.PathLike[str], *, series_uid: str | None = None,
            select: str | None = None) -> Path:
    """Read one series or image from ``path`` and write it to ``out`` (NIfTI), atomically."""
    if not is_nifti_path(out):
        raise InputError(out, "the output must be a NIfTI file (.nii.gz or .nii)")
    image = read_image(path, series_uid=series_uid, select=select)
    return write_image(image, out)


def make_phantoms(recipe: str, outdir: str | os.PathLike[str], *, cases: int = 1,
                  fmt: PhantomFormat | str = PhantomFormat.DICOM, first_seed: int = 0,
                  template: str | os.PathLike[str] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write ``cases`` phantom cases of ``recipe`` (seeds ``first_seed`` onwards) under ``outdir``.

    ``template``: a folder the recipe's ``dataset.template_generator(template, atlas_dir)`` makes
    cases from (brain-gwr: the real CQ500 head CT template and MNI atlases; the cases are then
    semi-synthetic, see :mod:`radiomark.recipes.brain_gwr.dataset`; the atlas is built once under
    ``outdir/atlas``). A recipe's ``phantom.finish(outdir)``, where it has one, runs after the cases
    are written (disc-herniation: ``outdir/labels.csv`` lists every phantom's levels for
    ``radiomark train disc-herniation``)."""
    if cases < 1:
        raise InputError(None, f"--cases must be at least 1, got {cases}")
    entry = look_up(recipe)
    phantom = entry.module("phantom")
    generate: Callable[[int], PhantomCase] = phantom.generate
    if template is not None:
        dataset = entry.module("dataset") if entry.has_module("dataset") else None
        if not hasattr(dataset, "template_generator"):
            raise InputError(template, f"--template: recipe {recipe} makes no cases from a template")
        generate = dataset.template_generator(template, Path(outdir) / "atlas")  # type: ignore[union-attr]
    written = []
    for index in range(cases):
        written.append(write_case(generate(first_seed + index), outdir, fmt))
        if progress is not None:
            progress(index + 1, cases)
    if hasattr(phantom, "finish"):
        phantom.finish(outdir)
    return written


def _chosen_recipe(recipe_name: str, recipe_file: str | os.PathLike[str] | None) -> Recipe:
    """The registered recipe ``recipe_name``, or the edited copy ``recipe_file`` of it (which keeps
    its own name and must be based on ``recipe_name``)."""
    from radiomark.recipes import base_name, load_recipe

    if recipe_file is None:
        return load_recipe(recipe_name)
    recipe = load_recipe(recipe_file)
    if base_name(recipe) != recipe_name:
        raise InputError(recipe_file, f"this recipe is {recipe.name}, based on {base_name(recipe)}, not on "
                                      f"{recipe_name}; set based_on: {recipe_name} in it or run {base_name(recipe)}")
    return recipe


def _refuse_unused_clinical(recipe: Recipe, **given: object) -> None:
    """Refuse patient data (``--sex``, ``--height``, ``--weight``) that ``recipe`` would not use."""
    from radiomark.recipes import clinical_inputs

    used = clinical_inputs(recipe)
    for option, value in given.items():
        if value is not None and option not in used:
            raise InputError(None, f"--{option} does not apply to recipe {recipe.name}: its measures and decisions "
                                   f"use {', '.join(f'--{name}' for name in sorted(used)) or 'no patient data'}")


def run(recipe_name: str, input_path: str | os.PathLike[str], out: str | os.PathLike[str], *,
        sex: str | None = None, height_m: float | None = None, weight_kg: float | None = None,
        slice_index: int | None = None, model: str | os.PathLike[str] | None = None, table: str | None = None,
        resume: bool = False, dicom_seg: bool = False, dicom_sr: bool = False, pixel_spacing_mm: float | None = None,
        pdf: bool = False, anonymize: bool = False, keep_identifiers: tuple[str, ...] = (),
        recipe_file: str | os.PathLike[str] | None = None, series_uid: str | None = None,
        select: str | None = None, progress: Callable[[int, int], None] | None = None, level: str | None = None,
        backend: str = "auto", workers: int | None = None, studies: tuple[str, ...] = (), query: str | None = None,
        send_to: str | None = None, pacs: Any = None, engine: str = "local", cluster: str | None = None
        ) -> BatchResult:
    """Run a recipe on one study or a cohort folder; outputs go to ``out/<case>/`` and ``out/cohort.csv``.

    In a cohort, a study that fails is recorded in ``failures`` (and ``out/failures.csv``) and the
    others go on; a single study that fails raises its error and writes nothing. With ``resume``,
    studies whose outputs are already complete (``out/<case>/measurements.csv`` exists; outputs are
    written atomically) are skipped and their rows reused in the cohort table.
    Clinical values not given are taken from the DICOM tags where present. ``pixel_spacing_mm``
    gives square pixels of that size (mm) to radiographs whose file carries no spacing (PNG/JPEG).
    ``pdf`` adds report.pdf; ``anonymize`` de-identifies seg.dcm / sr.dcm (dicognito, one
    pseudonym mapping for the whole run) and withholds source paths; ``keep_identifiers`` names the
    DICOM identifiers the reports and tables may show (none by default). ``recipe_file``: an
    edited copy of the recipe (its post-processing, measures, QC and tables are used; the model
    must have been trained with the same labels and inputs). Patient data the recipe does not use
    is refused, not ignored. ``series_uid`` (a SeriesInstanceUID or a unique ending) or ``select``
    (conditions added to the recipe's series rules) choose the series of a DICOM study; by default
    the recipe's rules do, and each case records the choice and why the other series were not taken.
    A 2D CT recipe given a volume measures its slice ``slice_index``, else the slice through
    vertebral ``level`` (default: the recipe's ``vertebral_level``, sarcopenia L3), found by
    counting vertebrae (:mod:`radiomark.transforms.vertebral_levels`; ``level.png`` shows how).
    ``out/run.json`` records the arguments, versions, recipe, model and input hashes
    (:mod:`radiomark.pipeline.provenance`); :func:`reproduce` redoes the run from it.
    ``backend``: ``auto`` runs a model on ONNX Runtime where it has a faster, equal ONNX export (the
    bundled models do; then torch and MONAI are never imported), ``torch`` or ``onnxruntime`` force
    one. ``workers``: processes for a cohort (default: one per core, at most one per study), each
    loading the models once; results, failures and resume are as with one.

    ``input_path`` may be a PACS — a DICOMweb server (``dicomweb://HOST:PORT/PATH``, see
    :mod:`radiomark.io.dicomweb`) or a DICOM node (``dicom://AET@HOST:PORT``, see
    :mod:`radiomark.io.dimse`): the ``studies`` (StudyInstanceUIDs) and those matching ``query``
    (``"ModalitiesInStudy=CT&StudyDate=20260101-"``, QIDO-RS or C-FIND) are fetched (WADO-RS or
    C-GET) into a temporary folder, run as files are and removed after. ``send_to``: a PACS that
    receives every case's ``seg.dcm`` and ``sr.dcm`` (STOW-RS or C-STORE; implies ``dicom_sr``).
    ``pacs``: login settings (:class:`radiomark.config.PacsSettings`; the environment's
    ``RADIOMARK_PACS_USERNAME`` / ``_PASSWORD`` win). ``engine="dask"`` runs one task per study on
    the Dask scheduler at ``cluster`` (``tcp://HOST:PORT``), or on a local Dask cluster of
    ``workers`` processes started for the run (:class:`radiomark.pipeline.batch.Engine`).
    """
    from radiomark.case import Clinical
    from radiomark.outputs.anonymize import new_anonymizer
    from radiomark.outputs.options import OutputOptions
    from radiomark.recipes import base_name

    # every argument is checked before torch and the models load (under a second, not five)
    recipe = _chosen_recipe(recipe_name, recipe_file)
    _refuse_unused_clinical(recipe, sex=sex, height=height_m, weight=weight_kg)
    sex = Clinical(sex, height_m, weight_kg).sex
    recipe.series.with_selection(select, series_uid)  # refuse a bad --series / --select
    recipe.chosen_table(table)
    if pixel_spacing_mm is not None and not 0.01 <= pixel_spacing_mm <= 10:
        raise InputError(None, f"--spacing is the pixel size in mm (0.01 to 10), got {pixel_spacing_mm}")
    if recipe.preprocessing.spatial_dims == 3 and (slice_index is not None or pixel_spacing_mm is not None
                                                   or level is not None):
        raise InputError(None, f"recipe {recipe.name} reads whole volumes; --slice, --level and --spacing do not apply")
    _check_level(level)
    from radiomark.inference.onnx import check_backend

    check_backend(backend)
    if workers is not None and workers < 1:
        raise InputError(None, f"--workers must be at least 1, got {workers}")
    from radiomark.pipeline.batch import Engine, default_workers

    where = Engine(engine, default_workers() if workers is None else workers, cluster)
    source, target_server = _pacs_servers(input_path, studies, query, send_to, pacs)
    if source is None and not Path(input_path).exists():
        raise InputError(input_path, "no such file or folder")
    dicom_sr = dicom_sr or target_server is not None
    options = OutputOptions(dicom_seg, dicom_sr, pdf, new_anonymizer() if anonymize else None, keep_identifiers)
    from radiomark.inference.predictor import bundled_model_dirs
    from radiomark.pipeline.batch import discover_studies, run_batch
    from radiomark.pipeline.provenance import write_run_record
    from radiomark.pipeline.segment_measure import RunPlan

    folders = (Path(model),) if model is not None else tuple(bundled_model_dirs(base_name(recipe)))
    target = Path(out)
    plan = RunPlan(recipe, folders, backend, target, options,
                   {"sex": sex, "height_m": height_m, "weight_kg": weight_kg, "slice_index": slice_index,
                    "pixel_spacing_mm": pixel_spacing_mm, "table": table, "series_uid": series_uid, "select": select,
                    "level": level})
    context = plan.context()  # here too: a model that does not load fails once, before any worker starts
    recipe = context.segmenter.recipe
    with _fetched(source, studies, query, pacs) as fetched:
        batch = run_batch(discover_studies(fetched or Path(input_path)), target, context.runner(target),
                          resume=resume, pseudonymise=anonymize, progress=progress, engine=where, loader=plan.load)
        if target_server is not None:
            _send_results(batch, target_server, pacs)
        arguments = {"recipe_name": recipe_name,
                     "input_path": source.url if source is not None else str(Path(input_path).resolve()), "sex": sex,
                 "height_m": height_m, "weight_kg": weight_kg, "slice_index": slice_index,
                 "model": None if model is None else str(Path(model).resolve()), "table": table,
                 "dicom_seg": dicom_seg, "dicom_sr": dicom_sr, "pixel_spacing_mm": pixel_spacing_mm, "pdf": pdf,
                 "anonymize": anonymize, "keep_identifiers": list(keep_identifiers),
                 "recipe_file": None if recipe_file is None else str(Path(recipe_file).resolve()),
                 "series_uid": series_uid, "select": select, "level": level, "backend": backend,
                 "studies": list(studies), "query": query,
                 "send_to": None if target_server is None else target_server.url}
        write_run_record(target, arguments, recipe, context.segmenter.run_dir, fetched)
    return batch


def _pacs_node(text: str, pacs: Any) -> Any:
    """A DICOM node (``dicom://AET@HOST:PORT``, :mod:`radiomark.io.dimse`) or a DICOMweb server
    (:mod:`radiomark.io.dicomweb`)."""
    if text.startswith("dicom://"):
        from radiomark.io.dimse import DicomNode

        return DicomNode.parse(text, getattr(pacs, "ae_title", None))
    from radiomark.io.dicomweb import DicomWebServer

    return DicomWebServer.parse(text, getattr(pacs, "ca_bundle", None))


def _pacs_servers(input_path: str | os.PathLike[str], studies: tuple[str, ...], query: str | None,
                  send_to: str | None, pacs: Any) -> tuple[Any, Any]:
    """The PACS nodes of a run (source when ``input_path`` is a URL, target ``send_to``), each
    checked; the study choice is checked against the source."""
    from radiomark.io.dicomweb import check_study_uids, parse_query

    source = None
    if "://" in str(input_path):  # a URL, not a file
        source = _pacs_node(str(input_path), pacs)
        if not studies and query is None:
            raise InputError(None, f"{source.url}: name the studies to fetch with --study UID or --query FILTERS")
        check_study_uids(studies)
        if query is not None:
            parse_query(query)
    elif studies or query is not None:
        raise InputError(None, "--study and --query choose studies on a PACS given as --from URL")
    return source, None if send_to is None else _pacs_node(send_to, pacs)


def _retrieve(source: Any, studies: tuple[str, ...], query: str | None, pacs: Any, folder: Path,
              progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """The ``studies`` and those matching ``query`` fetched from ``source`` (a DICOM node: C-FIND,
    C-GET; a DICOMweb server: QIDO-RS, WADO-RS) into ``folder/<StudyInstanceUID>/``, in order."""
    from functools import partial

    from radiomark.io import dicomweb, dimse

    if isinstance(source, dimse.DicomNode):
        find, fetch_one = partial(dimse.find_studies, source), partial(dimse.fetch_study, source)
    else:
        connection = dicomweb.client(source, dicomweb.credentials(pacs))
        find = partial(dicomweb.find_studies, connection, source)
        fetch_one = partial(dicomweb.fetch_study, connection, source)
    wanted = list(dict.fromkeys([*studies, *(find(query) if query else [])]))
    if not wanted:
        raise InputError(source.url, f"no study matches --query {query!r}")
    fetched = []
    for index, uid in enumerate(wanted):
        fetched.append(fetch_one(uid, folder))
        if progress is not None:
            progress(index + 1, len(wanted))
    return fetched


@contextmanager
def _fetched(source: Any, studies: tuple[str, ...], query: str | None, pacs: Any) -> Iterator[Path | None]:
    """The studies of a PACS source in a temporary folder for the run (removed after); None for a
    run on files."""
    if source is None:
        yield None
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="radiomark-pacs-") as folder:
        _retrieve(source, studies, query, pacs, Path(folder))
        yield Path(folder)


def fetch(source: str, out: str | os.PathLike[str], *, studies: tuple[str, ...] = (), query: str | None = None,
          pacs: Any = None, progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Fetch the ``studies`` and those matching ``query`` from the PACS ``source`` (DICOMweb server
    or DICOM node) into ``out/<StudyInstanceUID>/<series>/<instance>.dcm`` (the layout a PACS run
    hashes in its run.json); ``out`` must be new or empty. Returns the study folders."""
    from radiomark.io.atomic import atomic_directory

    server, _ = _pacs_servers(source, studies, query, None, pacs)
    if server is None:
        raise InputError(None, f"{source!r} is not a PACS URL; write dicomweb://HOST:PORT/PATH or "
                               "dicom://AET@HOST:PORT")
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise InputError(target, "is not empty; fetch into a new folder")
    with atomic_directory(target) as folder:  # an empty folder there is replaced only on success
        fetched = _retrieve(server, studies, query, pacs, folder, progress)
    return [target / study.name for study in fetched]


@dataclass
class Service:
    """A running ``serve``: the storage SCP and the router (:mod:`radiomark.pipeline.router`)."""

    router: Any
    listener: Any
    status_url: str

    def stop(self) -> None:
        """Stop listening, let the study running finish; queued studies stay in the spool for next time."""
        self.listener.stop()
        self.router.stop()


def serve(recipe_name: str, out: str | os.PathLike[str], *, ae_title: str = AE_TITLE, host: str = "127.0.0.1",
          port: int = 11112, http_port: int = 8080, send_to: str | None = None, settle_s: float = 10.0,
          queue_size: int = 8, retries: int = 2, retry_wait_s: float = 10.0,
          model: str | os.PathLike[str] | None = None, backend: str = "auto", pacs: Any = None) -> Service:
    """Start the DICOM router (returns at once; :meth:`Service.stop` ends it): a storage SCP
    ``ae_title`` on ``host:port`` takes studies in; each complete study (no new instance for
    ``settle_s`` s) runs through ``recipe_name`` with a DICOM SEG and SR into
    ``out/results/<StudyInstanceUID>/``, sent to ``send_to`` (a PACS, as :func:`run`'s) when given;
    failures are retried ``retries`` times ``retry_wait_s`` s apart, then moved to
    ``out/dead-letter/``; at most ``queue_size`` studies wait (more are refused with C-STORE status
    0xA700 until there is room); ``http://host:http_port/status`` answers JSON."""
    from radiomark.io.storage_scp import StorageServer
    from radiomark.pipeline.router import Router, RouterSettings

    _chosen_recipe(recipe_name, None)  # an unknown recipe, or disc-herniation (not a segmentation recipe), fails now
    if send_to is not None:
        _pacs_node(send_to, pacs)  # a bad --to fails now, not at the first study
    if queue_size < 1 or retries < 0 or settle_s <= 0:
        raise InputError(None, "serve needs queue size >= 1, retries >= 0 and a settle time > 0 s")
    target = Path(out)
    results = target / "results"

    def process(study: Path, uid: str) -> None:
        shutil.rmtree(results / uid, ignore_errors=True)  # a study sent again replaces its results
        batch = run(recipe_name, study, results / uid, model=model, dicom_seg=True, dicom_sr=True,
                    backend=backend, workers=1, send_to=send_to, pacs=pacs)
        if batch.failures:
            raise InputError(study, batch.failures[0].message)

    description = {"recipe": recipe_name, "dicom": f"{ae_title}@{host}:{port}", "send_to": send_to,
                   "results": str(results)}
    router = Router(target, process, RouterSettings(settle_s, queue_size, retries, retry_wait_s), description)
    listener = StorageServer(router.spool, ae_title, host, port, router.admit, router.received)
    try:
        listener.start()
    except OSError as error:
        raise InputError(None, f"cannot listen for DICOM on {host}:{port} ({error})") from None
    try:
        router.start(host, http_port)
    except OSError as error:
        listener.stop()
        raise InputError(None, f"cannot serve the status on {host}:{http_port} ({error})") from None
    return Service(router, listener, f"http://{host}:{http_port}/status")


def _send_results(batch: BatchResult, server: Any, pacs: Any) -> int:
    """Store every case's seg.dcm and sr.dcm on ``server`` (STOW-RS or C-STORE); returns how many
    files were sent."""
    from radiomark.io import dicomweb, dimse

    files = [Path(result.outputs[name]) for result in batch.results for name in ("seg.dcm", "sr.dcm")
             if name in result.outputs]
    if isinstance(server, dimse.DicomNode):
        return dimse.send(server, files)
    return dicomweb.send(dicomweb.client(server, dicomweb.credentials(pacs)), server, files)


def reproduce(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], *,
              input_path: str | os.PathLike[str] | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run again what ``run_dir`` records in its ``run.json`` (after checking that its inputs and
    model are unchanged) into ``out`` and compare the two cohort tables: ``differences`` lists every
    case or measurement that is not the same (empty: reproduced). ``input_path``: where the inputs
    are now (needed for an anonymised run, whose run.json does not name them)."""
    import shutil

    from radiomark.pipeline.batch import PSEUDONYM_KEY
    from radiomark.pipeline.provenance import compare_cohorts, read_run_record

    record = read_run_record(Path(run_dir), None if input_path is None else Path(input_path))
    key = Path(run_dir) / PSEUDONYM_KEY
    if key.is_file() and not (Path(out) / PSEUDONYM_KEY).exists():  # the same pseudonyms, so cases pair up
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy2(key, Path(out) / PSEUDONYM_KEY)
    arguments = dict(record["arguments"], keep_identifiers=tuple(record["arguments"]["keep_identifiers"]),
                     studies=tuple(record["arguments"].get("studies", ())), send_to=None)  # nothing goes back
    if "://" not in arguments["input_path"]:  # a DICOMweb run's studies given again as files
        arguments.update(studies=(), query=None)
    batch = run(out=out, progress=progress, **arguments)
    assert batch.cohort_csv is not None  # run writes it
    return {"run": str(run_dir), "reproduced": str(out), "cases": len(batch.results),
            "differences": compare_cohorts(Path(run_dir) / "cohort.csv", batch.cohort_csv)}


def _check_level(level: str | None) -> None:
    """Refuse an unknown vertebral level before any work."""
    from radiomark.transforms.vertebral_levels import LEVELS

    if level is not None and level not in LEVELS:
        raise InputError(None, f"--level {level!r} is not a level radiomark finds; choose one of {', '.join(LEVELS)}"
                               f"{did_you_mean(level, LEVELS)}")


def measure(recipe_name: str, image_path: str | os.PathLike[str], mask_path: str | os.PathLike[str],
            out: str | os.PathLike[str], *, sex: str | None = None, height_m: float | None = None,
            weight_kg: float | None = None, slice_index: int | None = None, table: str | None = None,
            series_uid: str | None = None, select: str | None = None, label_mapping: str | None = None
            ) -> CaseResult:
    """Measure an existing (e.g. manually corrected) label map on its image; no model involved.
    ``series_uid`` / ``select`` choose the image's series in a DICOM study, as in :func:`run`. The
    mask may be a NIfTI label map, a Slice-O-Matic ``.tag`` file or a DICOM SEG; ``label_mapping``
    (``VALUE=NAME,...``) says which of its values is which structure."""
    from radiomark.case import Clinical
    from radiomark.io.label_files import parse_label_mapping
    from radiomark.recipes import load_recipe

    recipe = load_recipe(recipe_name)  # every argument is checked before torch loads
    _refuse_unused_clinical(recipe, sex=sex, height=height_m, weight=weight_kg)
    sex = Clinical(sex, height_m, weight_kg).sex
    recipe.chosen_table(table)
    parse_label_mapping(label_mapping, recipe.labels)
    for path in (image_path, mask_path):
        if not Path(path).exists():
            raise InputError(path, "no such file or folder")
    from radiomark.pipeline.segment_measure import measure_case

    return measure_case(recipe, Path(image_path), Path(mask_path), Path(out), sex=sex, height_m=height_m,
                        weight_kg=weight_kg, slice_index=slice_index, table=table, series_uid=series_uid,
                        select=select, label_mapping=label_mapping)


def _crop_segmenter(recipe: Recipe, run_dir: Path) -> Segmenter | None:
    """The segmenter a classifier needs for its crop: the run folder's own, else the bundled one."""
    from radiomark.inference.predictor import Segmenter, bundled_model_dir

    if recipe.classifier is None or recipe.classifier.input == "whole":
        return None
    return Segmenter.load(run_dir if any(run_dir.glob("fold_*/best.pt")) else bundled_model_dir(recipe.name))


def train(recipe_name: str, data: str | os.PathLike[str] | None, out: str | os.PathLike[str], *,
          epochs: int | None = None, folds: int = 1, stage: Stage | str = Stage.SEGMENT,
          patient_pattern: str | None = None, validation_patients: tuple[str, ...] = (),
          progress: Callable[[str, int, int], None] | None = None, synthetic: int = 0,
          label_mapping: str | None = None) -> dict[str, Any]:
    """Train ``recipe_name`` (a name or a recipe YAML path) on the data under ``data`` (may be None
    when ``synthetic`` samples are asked for).

    ``synthetic`` (segmenter): that many samples made by the recipe's own generator
    (``dataset.synthetic_samples``; sarcopenia: procedural L3 anatomy) are trained with the cases.
    ``label_mapping`` (``VALUE=NAME,...``) maps the values of the cases' label files (NIfTI,
    Slice-O-Matic TAG, DICOM SEG) to the recipe's structures.

    ``stage`` segment: case folders, the segmenter (``folds`` patient-level folds). ``stage``
    classify: class folders (see :mod:`radiomark.classification`), the classifier into
    ``out/classifier``; a crop-based classifier uses the segmenter in ``out`` when there is one,
    else the bundled one. ``stage`` joint: class folders, the segmenter and classifier already in
    ``out`` fine-tuned together (3 epochs unless given; see :mod:`radiomark.training.joint`).
    ``validation_patients`` (segmenter) fixes the validation patients instead of a random split.
    """
    from radiomark.recipes import load_recipe

    recipe = load_recipe(recipe_name)
    if data is None and (Stage(stage) is not Stage.SEGMENT or not synthetic):
        raise InputError(None, "--data is required (only the segmenter can train on --synthetic samples alone)")
    if Stage(stage) is Stage.JOINT:
        from radiomark.classification import find_labelled_images
        from radiomark.inference.classifier import ImageClassifier
        from radiomark.training.joint import train_joint

        assert data is not None  # checked above
        classes = ImageClassifier.load(out, backend="torch").recipe.classifier.classes  # type: ignore[union-attr]
        samples = find_labelled_images(data, classes, patient_pattern)
        return train_joint(samples, out, epochs=epochs or 3, progress=progress)
    if Stage(stage) is Stage.CLASSIFY:
        from radiomark.classification import find_labelled_images
        from radiomark.training.classifier import prepare_inputs, train_classifier

        if recipe.classifier is None:
            raise InputError(None, f"recipe {recipe.name} has no classifier to train")
        if folds != 1:
            raise InputError(None, "--folds applies to the segmenter; the classifier uses one stratified "
                                   "patient-level split")
        assert data is not None  # checked above
        samples = find_labelled_images(data, recipe.classifier.classes, patient_pattern)
        inputs = prepare_inputs(recipe, samples, _crop_segmenter(recipe, Path(out)), progress)
        return train_classifier(recipe, samples, inputs, out, epochs=epochs, progress=progress)
    from radiomark.recipes import base_name
    from radiomark.training.data import load_cases
    from radiomark.training.trainer import train as train_recipe

    made: list[Any] = []
    if synthetic:
        entry = look_up(base_name(recipe))
        if not entry.has_module("dataset") or not hasattr(entry.module("dataset"), "synthetic_samples"):
            raise InputError(None, f"--synthetic: recipe {recipe.name} has no generator of training samples")
        made = entry.module("dataset").synthetic_samples(
            recipe, synthetic, None if progress is None else lambda done, total: progress("synthesis", done, total))
    cases = load_cases(data, recipe, label_mapping) if data is not None else []
    return train_recipe(recipe, cases, out, epochs=epochs, folds=folds, synthetic=made,
                        validation_patients=validation_patients, progress=progress)


def evaluate(recipe_name: str, data: str | os.PathLike[str], out: str | os.PathLike[str], *,
             model: str | os.PathLike[str] | None = None, data_kind: str = "unspecified",
             stage: Stage | str = Stage.SEGMENT, patient_pattern: str | None = None,
             series_uid: str | None = None, select: str | None = None,
             progress: Callable[[str, int, int], None] | None = None, label_mapping: str | None = None
             ) -> dict[str, Any]:
    """Held-out evaluation of a model on ``data``: IoU/Dice per structure and the recipe's
    agreement measure (segment), or accuracy, F1, ROC-AUC with ROC and confusion matrix (classify).
    ``series_uid`` / ``select`` are added to the series rules every DICOM case is read with;
    ``label_mapping`` maps the reference label files' values (see :func:`train`)."""
    from radiomark.evaluation import evaluate as evaluate_model
    from radiomark.evaluation import evaluate_classifier
    from radiomark.inference.classifier import ImageClassifier
    from radiomark.inference.predictor import Segmenter, bundled_model_dir

    folder = Path(model) if model is not None else bundled_model_dir(recipe_name)
    if Stage(stage) is Stage.JOINT:
        raise InputError(None, "--stage joint is for training; evaluate the tuned model with --stage classify")
    if Stage(stage) is Stage.CLASSIFY:
        classifier = ImageClassifier.load(folder)
        return evaluate_classifier(classifier, _crop_segmenter(classifier.recipe, folder), data, out, data_kind,
                                   patient_pattern, progress)
    from radiomark.recipes import load_recipe

    recipe = load_recipe(recipe_name)
    recipe = recipe.model_copy(update={"series": recipe.series.with_selection(select, series_uid)})
    return evaluate_model(Segmenter.load(folder, recipe=recipe), data, out, data_kind, label_mapping)


def export(run_dir: str | os.PathLike[str], *, repeats: int = 10) -> dict[str, Any]:
    """Export a run folder's networks to ONNX, checked against PyTorch and timed (``onnx.json``)."""
    from radiomark.inference.export import export_onnx

    return export_onnx(run_dir, repeats)


def transfer_labels(moving: str | os.PathLike[str], labels: str | os.PathLike[str], fixed: str | os.PathLike[str],
                    out: str | os.PathLike[str], *, report: str | os.PathLike[str] | None = None,
                    affine: bool = False, seed: int = 0) -> dict[str, Any]:
    """Register ``moving`` onto ``fixed`` and carry ``labels`` onto the fixed grid; see
    :func:`radiomark.label_transfer.transfer_label_file`."""
    from radiomark.label_transfer import transfer_label_file

    return transfer_label_file(moving, labels, fixed, out, report=report, affine=affine, seed=seed)


def series_rules(recipe_name: str | os.PathLike[str]) -> SeriesRules:
    """The series rules of a recipe (a registered name or a recipe YAML): its ``series:`` section,
    or for a fusion-classify recipe the rules file its ``series_rules`` names."""
    from radiomark.io.series_rules import load_series_rules
    from radiomark.recipes import load_recipe, recipe_kind
    from radiomark.recipes.registry import PipelineKind

    if recipe_kind(recipe_name) is PipelineKind.FUSION_CLASSIFY:
        from radiomark.herniation.recipe import load_herniation_recipe

        herniation = load_herniation_recipe(recipe_name)
        return load_series_rules(herniation.series_rules).model_copy(update={"name": herniation.name})
    return load_recipe(recipe_name).series


def index(recipe_name: str | os.PathLike[str], studies: str | os.PathLike[str], out: str | os.PathLike[str], *,
          rules: str | os.PathLike[str] | None = None, select: str | None = None,
          progress: ProgressCallback | None = None) -> list[SeriesVerdict]:
    """Index the DICOM images under ``studies`` for a recipe: ``out`` (CSV) gets one row per image
    with whether (and why) its series is the one the recipe's series rules choose in its study
    (``rules``: a series-rules YAML or the name of bundled rules instead; ``select``: conditions
    added to them), its orientation, thickness, kernel, MR weighting guess and disc level where the
    rules use them. Returns one verdict per series."""
    from radiomark.io.series_index import index_studies, write_index
    from radiomark.io.series_rules import load_series_rules

    target = Path(out)
    if target.suffix.lower() != ".csv":
        raise InputError(target, "the index is a CSV file; give --out a .csv name")
    if target.resolve().is_relative_to(Path(studies).resolve()):
        raise InputError(target, "the index would be written inside the studies folder it indexes; choose another "
                                 "--out")
    chosen = load_series_rules(rules) if rules is not None else series_rules(recipe_name)
    rows, verdicts = index_studies(studies, chosen.with_selection(select), progress)
    write_index(rows, target)
    return verdicts


def train_herniation(index: str | os.PathLike[str], labels: str | os.PathLike[str], out: str | os.PathLike[str], *,
                     recipe: str | os.PathLike[str] = "disc-herniation", epochs: int | None = None,
                     ablation: bool = True, progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Train the disc-herniation fusion model (and, with ``ablation``, image-only and tabular-only
    models) on the chosen images of ``index`` labelled in ``labels``; see
    :mod:`radiomark.herniation.training`."""
    from radiomark.herniation.network import MODES
    from radiomark.herniation.recipe import load_herniation_recipe
    from radiomark.herniation.samples import assemble_samples, load_images
    from radiomark.herniation.training import train_herniation as train_models

    spec = load_herniation_recipe(recipe)
    samples = assemble_samples(index, labels, spec)
    return train_models(spec, samples, load_images(samples, spec, progress), out, epochs=epochs,
                        modes=MODES if ablation else ("fused",), progress=progress)


def evaluate_herniation(index: str | os.PathLike[str], labels: str | os.PathLike[str], model: str | os.PathLike[str],
                        out: str | os.PathLike[str], *, data_kind: str = "unspecified",
                        progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Held-out scores with bootstrap CIs, ROC and calibration of every model in the run ``model``;
    see :mod:`radiomark.herniation.evaluation`."""
    from radiomark.herniation.evaluation import evaluate_herniation as score
    from radiomark.herniation.evaluation import held_out_samples
    from radiomark.herniation.recipe import load_run_recipe
    from radiomark.herniation.samples import assemble_samples, load_images

    run = Path(model)
    spec = load_run_recipe(run)
    held, seen = held_out_samples(run, assemble_samples(index, labels, spec))
    return score(run, spec, held, load_images(held, spec, progress), out, data_kind, seen)


def run_herniation(input_path: str | os.PathLike[str], out: str | os.PathLike[str], model: str | os.PathLike[str],
                   *, age_years: float | None = None, sex: str | None = None,
                   sac_width: dict[str, float] | float | None = None,
                   canal_mask: str | os.PathLike[str] | None = None, resume: bool = False,
                   series_uid: str | None = None, select: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """Per-level herniation probabilities of one lumbar MRI study or a folder of studies, on the
    same batch machinery as every recipe (resume, failures, cohort); see
    :mod:`radiomark.herniation.inference`. ``series_uid`` / ``select``: as in :func:`run`."""
    from radiomark.case import Clinical
    from radiomark.herniation.inference import classify_study
    from radiomark.herniation.recipe import load_run_recipe
    from radiomark.io.series_rules import load_series_rules
    from radiomark.pipeline.batch import discover_studies, run_batch

    sex = Clinical(sex=sex, age_years=age_years).sex  # refuse bad values before any work; M / F / O
    run, target = Path(model), Path(out)
    recipe = load_run_recipe(run)
    rules = load_series_rules(recipe.series_rules).with_selection(select, series_uid)
    studies = discover_studies(Path(input_path))
    if canal_mask is not None and len(studies) > 1:
        raise InputError(canal_mask, "--canal-mask belongs to one study; run the studies one at a time")
    return run_batch(studies, target, lambda study, name: classify_study(
        study, name, target, run, recipe, rules, age_years=age_years, sex=sex, sac_width=sac_width,
        canal_mask=canal_mask),
        resume=resume, progress=progress)
