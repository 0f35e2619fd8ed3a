"""The ``radiomark`` command line: parses arguments, calls :mod:`radiomark.api`, shows results.

Every :class:`~radiomark.errors.RadiomarkError` becomes one line on stderr and exit code 2.
Heavy modules are imported inside the commands so that ``radiomark --help`` stays instant.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from radiomark import __version__
from radiomark.errors import InputError, RadiomarkError
from radiomark.io.dimse import AE_TITLE
from radiomark.recipes import Stage

app = typer.Typer(help="Medical images in, quantitative imaging biomarkers out.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
# Tables are wide; when the output is not a terminal, do not fold them to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 240)
errors = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
EXIT_INPUT_ERROR = 2
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: C0 and C1 control characters (ESC starts ANSI / OSC sequences), DEL included.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shown(value: object) -> str:
    """Text that came from an input (a path, a tag, an error naming them), safe to print: control
    characters replaced by "?" and rich markup escaped, so it shows literally."""
    return escape(_CONTROL.sub("?", str(value)))


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    if _VERBOSITY["quiet"]:
        return
    errors.print(f"[yellow]warning:[/] {shown(message)}", highlight=False, soft_wrap=True)


def handles_errors(command: F) -> F:
    """Map the RadiomarkError family to one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warnings.showwarning = _one_line_warning
        try:
            return command(*args, **kwargs)
        except RadiomarkError as error:
            errors.print(f"[red]error:[/] {shown(error)}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_INPUT_ERROR) from None

    return wrapper  # type: ignore[return-value]


#: -v / -q of the command line (see :func:`main`).
_VERBOSITY = {"verbose": False, "quiet": False}
#: --config of the command line (see :mod:`radiomark.config`).
_CONFIG: dict[str, Path | None] = {"path": None}


def _progress() -> Progress:
    """A progress bar with the time elapsed and an estimate of the time left (none with -q)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=errors, transient=True,
                    disable=_VERBOSITY["quiet"])


def _version(value: bool) -> None:
    if value:
        console.print(f"radiomark {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Show the version and exit.")] = False,
         verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every library warning, one line "
                                                                       "each.")] = False,
         quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Errors only: no progress bars, tables or "
                                                                   "summaries.")] = False,
         config: Annotated[Path | None, typer.Option("--config", help="Site defaults (default: $RADIOMARK_CONFIG, "
                                                                      "./radiomark.toml, ~/.config/radiomark/"
                                                                      "radiomark.toml).")] = None) -> None:
    """radiomark: DICOM / NIfTI / X-ray in, segmentation, measurements and decisions out."""
    if verbose and quiet:
        raise typer.BadParameter("-v and -q contradict each other; give one")
    _VERBOSITY.update(verbose=verbose, quiet=quiet)
    _CONFIG["path"] = config
    console.quiet = quiet


config_app = typer.Typer(help="Site defaults of the command line (radiomark.toml).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@handles_errors
def config_show() -> None:
    """The configuration file in force and every value it sets (defaults where it is silent)."""
    from radiomark.config import CONFIG_NAME, load_config

    config, path = load_config(_CONFIG["path"])
    console.print(f"# {shown(path) if path else f'no {CONFIG_NAME} found: built-in defaults'}")
    run = config.run
    tables = ", ".join(f"{name} = {json.dumps(table)}" for name, table in run.tables.items())
    lines = ["[run]", f"tables = {{ {tables} }}" if tables else "tables = {}",
             *(f"{name} = {json.dumps(getattr(run, name))}" for name in ("dicom_seg", "dicom_sr", "pdf", "anonymize")),
             f"keep_identifiers = {json.dumps(list(run.keep_identifiers))}"]
    pacs = config.pacs
    lines += ["", "[pacs]", f"username = {json.dumps(pacs.username)}" if pacs.username else "# username: none",
              "password = (set, not shown)" if pacs.password else "# password: none",
              f"ca_bundle = {json.dumps(str(pacs.ca_bundle))}" if pacs.ca_bundle else "# ca_bundle: system"]
    console.print("\n".join(shown(line) for line in lines), highlight=False)


recipes_app = typer.Typer(help="List, show and validate recipes (bundled and registered by other packages).",
                          no_args_is_help=True)
app.add_typer(recipes_app, name="recipes")


@recipes_app.command("list")
@handles_errors
def recipes_list() -> None:
    """One row per registered recipe: name, kind, title, package."""
    from radiomark.recipes import document_kind, recipe_document
    from radiomark.recipes.registry import entries

    table = Table(title="recipes")
    for column in ("name", "kind", "title", "package"):
        table.add_column(column)
    for entry in entries().values():
        document, where = recipe_document(entry.name)
        table.add_row(shown(entry.name), shown(str(document_kind(document, where))),
                      shown(str(document.get("title", ""))), shown(entry.package))
    console.print(table)


@recipes_app.command("show")
@handles_errors
def recipes_show(name: Annotated[str, typer.Argument(help="A registered recipe's name.")]) -> None:
    """Print a registered recipe's YAML (copy it, edit it, pass it with --recipe)."""
    from radiomark.recipes.registry import look_up

    console.print(look_up(name).yaml_text(), markup=False, highlight=False, soft_wrap=True)


@recipes_app.command("validate")
@handles_errors
def recipes_validate(path: Annotated[Path, typer.Argument(help="A recipe YAML file.")]) -> None:
    """Check a recipe file against the schema and its measures against the code it is based on."""
    from radiomark.herniation.recipe import load_herniation_recipe
    from radiomark.recipes import base_name, load_recipe, recipe_kind
    from radiomark.recipes.registry import PipelineKind

    if recipe_kind(path) is PipelineKind.FUSION_CLASSIFY:
        recipe_name = load_herniation_recipe(path).name
        console.print(f"{shown(str(path))}: valid {PipelineKind.FUSION_CLASSIFY} recipe {shown(recipe_name)}")
        return
    recipe = load_recipe(path)
    console.print(f"{shown(str(path))}: valid {PipelineKind.SEGMENT_MEASURE} recipe {shown(recipe.name)} "
                  f"(code of {shown(base_name(recipe))})")


def _registered(name: str) -> str:
    """``name`` when it is a registered recipe; else an error with the recipes and the closest name."""
    from radiomark.recipes.registry import look_up

    return look_up(name).name


def _short_uid(uid: str, keep: int = 12) -> str:
    return uid if len(uid) <= keep + 1 else "…" + uid[-keep:]


@app.command()
@handles_errors
def info(path: Annotated[Path, typer.Argument(help="DICOM folder (searched recursively) or file, NIfTI or PNG.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print full rows as JSON instead of a table.")] = False,
         ) -> None:
    """List the series found under PATH with their geometry and any problems.

    The table shortens UIDs to their last digits; --series accepts such a unique ending.
    """
    import dataclasses
    import json

    from radiomark import api

    with _progress() as progress:
        task = progress.add_task("scanning", total=None)
        rows = api.info(path, progress=lambda done, total: progress.update(task, completed=done, total=total))
    if as_json:
        console.print_json(json.dumps([dataclasses.asdict(row) for row in rows]))
        return
    table = Table(title=f"{len(rows)} series in {shown(path)}")
    for column in ("folder", "patient", "study", "series UID", "modality", "description", "orientation",
                   "size (x × y × z)", "spacing mm (x × y × z)", "slices", "problems"):
        table.add_column(column, overflow="fold")
    for row in rows:
        spacing = "unknown" if row.spacing_xyz_mm is None else " × ".join(f"{s:.4g}" for s in row.spacing_xyz_mm)
        problems = "; ".join(row.problems) or "none"
        folder = Path(row.path).relative_to(path) if Path(row.path).is_relative_to(path) else Path(row.path)
        table.add_row(shown(folder), shown(row.patient), shown(_short_uid(row.study)), shown(_short_uid(row.series)),
                      shown(row.modality), shown(row.description), shown(row.orientation),
                      " × ".join(map(str, row.size_xyz)), spacing, str(row.slices),
                      f"[red]{shown(problems)}[/]" if row.problems else problems)
    console.print(table)


@app.command()
@handles_errors
def index(recipe: Annotated[str, typer.Argument(help="Recipe whose series rules choose (name or YAML).")],
          studies: Annotated[Path, typer.Argument(metavar="STUDIES_DIR", help="Folder of DICOM studies "
                                                                               "(searched recursively).")],
          out: Annotated[Path, typer.Option("--out", help="Index CSV: one row per image.")],
          rules: Annotated[str | None, typer.Option("--rules", help="Series rules instead of the recipe's: a YAML "
                                                                    "file or the name of bundled rules.")] = None,
          select: Annotated[str | None, typer.Option("--select", help='Conditions added to the rules, e.g. '
                                                                      '"description!~contrast".')] = None,
          ) -> None:
    """Show, before running, which series of each study a recipe would read and why every other
    series was refused or beaten (orientation, ImageType, thickness, kernel, MR weighting from
    TR/TE/sequence, disc levels)."""
    from radiomark import api

    with _progress() as progress:
        task = progress.add_task("indexing", total=None)
        verdicts = api.index(recipe, studies, out, rules=rules, select=select,
                             progress=lambda done, total: progress.update(task, completed=done, total=total))
    table = Table(title=f"{len(verdicts)} series in {shown(studies)}")
    for column in ("patient", "series UID", "description", "orientation", "type", "mm", "images", "chosen", "why"):
        table.add_column(column, overflow="fold")
    for verdict in verdicts:
        series = verdict.series
        thickness = series.slice_thickness_mm or series.slice_spacing_mm
        table.add_row(shown(series.patient_id), shown(_short_uid(series.series_uid)), shown(series.description),
                      str(series.orientation or "unknown"), shown("/".join(series.image_type[:2])),
                      f"{thickness:g}" if thickness else "", str(series.n_slices),
                      "[green]yes[/]" if verdict.chosen else "no", shown(verdict.reason))
    console.print(table)
    studies_without = {v.series.study_uid for v in verdicts} - {v.series.study_uid for v in verdicts if v.chosen}
    console.print(f"index: {shown(out)}" + (f"; [yellow]{len(studies_without)} study(ies) without a matching series[/]"
                                     if studies_without else ""))


@app.command()
@handles_errors
def convert(path: Annotated[Path, typer.Argument(help="DICOM folder or file, NIfTI or PNG.")],
            out: Annotated[Path, typer.Argument(help="Output NIfTI file (.nii.gz).")],
            series: Annotated[str | None, typer.Option("--series", help="SeriesInstanceUID to convert.")] = None,
            select: Annotated[str | None, typer.Option(
                "--select", help='Rules such as "modality=MR,description=~T2,orientation=axial".')] = None,
            ) -> None:
    """Convert one series (or image) to NIfTI with its geometry."""
    from radiomark import api

    written = api.convert(path, out, series_uid=series, select=select)
    console.print(f"wrote {shown(written)}")


@app.command()
@handles_errors
def phantom(recipe: Annotated[str, typer.Argument(help="Recipe whose phantom to generate (`radiomark recipes "
                                                       "list`).")],
            outdir: Annotated[Path, typer.Argument(help="Folder to write the cases into.")],
            cases: Annotated[int, typer.Option("--cases", min=1, help="Number of cases.")] = 1,
            fmt: Annotated[str, typer.Option("--format", help="dicom, nifti or png (2D radiographs).")] = "dicom",
            seed: Annotated[int, typer.Option("--seed", help="Seed of the first case; case i uses seed + i.")] = 0,
            template: Annotated[Path | None, typer.Option(
                "--template", help="brain-gwr: the real head CT template folder (cq500_template/ and "
                                   "atlases_mni/); cases are then semi-synthetic, made from it.")] = None,
            ) -> None:
    """Write synthetic cases with exact ground truth (labels.nii.gz, truth.json) for RECIPE."""
    from radiomark import api
    from radiomark.phantoms import PhantomFormat

    recipe = _registered(recipe)
    try:
        phantom_format = PhantomFormat(fmt)
    except ValueError:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(PhantomFormat)}", param_hint="--format") from None
    with _progress() as progress:
        task = progress.add_task(f"{recipe} phantoms", total=cases)
        written = api.make_phantoms(recipe, outdir, cases=cases, fmt=phantom_format, first_seed=seed,
                                    template=template,
                                    progress=lambda done, total: progress.update(task, completed=done))
    console.print(f"wrote {len(written)} {shown(recipe)} case(s) to {shown(outdir)}")


SexOption = Annotated[str | None, typer.Option("--sex", help="M or F (default: the DICOM PatientSex).")]
HeightOption = Annotated[float | None, typer.Option("--height", help="Height in metres (default: PatientSize).")]
WeightOption = Annotated[float | None, typer.Option("--weight", help="Weight in kg (default: PatientWeight).")]
SliceOption = Annotated[int | None, typer.Option("--slice", help="Volume: slice to use (0 = inferior); overrides "
                                                                 "--level.")]
LevelOption = Annotated[str | None, typer.Option(
    "--level", help="CT volume, 2D recipe: measure the slice through this vertebral body, found by counting vertebrae "
                    "(T10..L5; default: the recipe's, sarcopenia L3).")]
TableOption = Annotated[str | None, typer.Option("--table", help="Cut-off table (default: the recipe's).")]
SeriesOption = Annotated[str | None, typer.Option("--series", help="DICOM: the SeriesInstanceUID to read, or a "
                                                                   "unique ending of it (as `info` shows it); "
                                                                   "default: the recipe's series rules choose.")]
SelectOption = Annotated[str | None, typer.Option("--select", help='DICOM: conditions added to the recipe\'s series '
                                                                   'rules, e.g. "description!~contrast,'
                                                                   'kernel=~B30" (see `radiomark index`).')]


def _show_result(result: Any) -> None:
    table = Table(title=shown(result.case_id))
    table.add_column("measurement")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for measurement in result.measurements.values():
        value = measurement.value
        value_text = f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
        table.add_row(shown(measurement.name.replace("_", " ")), value_text, shown(measurement.unit))
    for finding in result.findings:
        verdict = {True: "[red]yes[/]", False: "[green]no[/]", None: "[yellow]not decided[/]"}[finding.present]
        table.add_row(shown(f"{finding.name} ({finding.table})"), verdict, shown(finding.reason))
    console.print(table)
    if result.level:
        level = result.level
        console.print(f"level: {level['level']} at slice {level['slice_index']} (counted from the {level['anchor']}, "
                      f"confidence {level['confidence']}); see level.png")
    for flag in result.flags:
        console.print(f"[yellow]QC:[/] {shown(flag)}")


def _described(progress: Progress, task: Any) -> Callable[[str, int, int], None]:
    """A progress callback (description, completed, total) updating ``task`` of ``progress``."""
    return lambda text, done, total: progress.update(task, description=text, completed=done, total=total)


StageOption = Annotated[Stage, typer.Option("--stage", help="segment: the segmenter (case folders); classify: "
                                                           "the image classifier (one folder per class); joint "
                                                           "(train only): both fine-tuned together.")]
PatientPatternOption = Annotated[str | None, typer.Option(
    "--patient-pattern", help="Classifier data: regular expression whose first group, searched in a file name, "
                              "is the patient id (default: each image its own patient).")]


IndexOption = Annotated[Path | None, typer.Option("--index", help="disc-herniation: index CSV of "
                                                                   "`radiomark index`.")]
LabelsOption = Annotated[str | None, typer.Option("--labels", help="Segmentation recipes: which value of the label "
                                                                   "files (NIfTI, Slice-O-Matic .tag, DICOM SEG) is "
                                                                   "which structure, e.g. 1=skeletal_muscle,"
                                                                   "5=visceral_fat,7=subcutaneous_fat (other values: "
                                                                   "background). disc-herniation: labels CSV (patient, "
                                                                   "disc_level, herniation[, age_years, sex, "
                                                                   "thecal_sac_width_mm]).")]


def _is_herniation(recipe: str) -> bool:
    """Whether ``recipe`` (a name or YAML file) is an image + clinical-data classifier recipe."""
    from radiomark.recipes import recipe_kind
    from radiomark.recipes.registry import PipelineKind

    return recipe_kind(recipe) is PipelineKind.FUSION_CLASSIFY


def _required(value: Path | None, option: str) -> Path:
    if value is None:
        raise InputError(None, f"missing option {option}")
    return value


def _herniation_tables(index_csv: Path | None, labels_csv: str | None) -> tuple[Path, Path]:
    return (_required(index_csv, "--index (from `radiomark index`)"),
            _required(Path(labels_csv) if labels_csv else None, "--labels"))


def _show_herniation_models(scores: dict[str, dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for name in ("model", "accuracy", "F1", "sensitivity", "specificity", "ROC-AUC", "n"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for mode, values in scores.items():
        ci = values.get("ci95", {})
        cells = []
        for key in ("accuracy", "f1", "sensitivity", "specificity", "roc_auc"):
            low_high = f" ({ci[key][0]:.2f}–{ci[key][1]:.2f})" if key in ci else ""
            cells.append(f"{values[key]:.3f}{low_high}")
        table.add_row(mode, *cells, str(values["n"]))
    console.print(table)


@app.command()
@handles_errors
def train(recipe: Annotated[str, typer.Argument(help="Recipe name or a recipe YAML file.")],
          out: Annotated[Path, typer.Option("--out", help="Run folder (resumes if it holds a run).")],
          data: Annotated[Path | None, typer.Option("--data", help="Folder of cases (see README: data "
                                                                   "layout).")] = None,
          index_csv: IndexOption = None, labels_csv: LabelsOption = None,
          ablation: Annotated[bool, typer.Option("--ablation/--no-ablation", help="disc-herniation: also train "
                                                 "image-only and tabular-only models.")] = True,
          folds: Annotated[int, typer.Option("--folds", min=1, help="Patient-level folds (1 = one split).")] = 1,
          epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Epochs (default: recipe).")] = None,
          stage: StageOption = Stage.SEGMENT, patient_pattern: PatientPatternOption = None,
          validation_patients: Annotated[str, typer.Option(
              "--validation-patients", help="Comma-separated patient ids that validate (segmenter; default: a "
                                            "random patient split).")] = "",
          synthetic: Annotated[int, typer.Option(
              "--synthetic", min=0, help="Also train on this many samples the recipe makes itself (sarcopenia: "
                                         "procedural L3 anatomy); --data becomes optional.")] = 0,
          nproc_per_node: Annotated[int, typer.Option("--nproc-per-node", min=1, help="Segmenter: train in this "
                                                      "many processes per machine with DDP (torchrun; gloo on "
                                                      "CPUs, NCCL on GPUs).")] = 1,
          nnodes: Annotated[int, typer.Option("--nnodes", min=1, help="Machines training together (each runs the "
                                              "same command with its --node-rank).")] = 1,
          rdzv_endpoint: Annotated[str | None, typer.Option("--rdzv-endpoint", help="HOST:PORT where the machines "
                                                            "meet (one of them; needed with --nnodes > 1).")] = None,
          node_rank: Annotated[int | None, typer.Option("--node-rank", min=0, help="This machine's number "
                                                        "(0 .. nnodes - 1).")] = None,
          ) -> None:
    """Train a recipe's segmentation model or image classifier with patient-level validation
    (disc-herniation: the fusion model from --index and --labels)."""
    from radiomark import api

    if (nproc_per_node > 1 or nnodes > 1) and "RANK" not in os.environ:  # not yet under torchrun
        if _is_herniation(recipe) or stage is not Stage.SEGMENT:
            raise InputError(None, "--nproc-per-node / --nnodes train the segmenter (stage segment) only")
        from radiomark.training.distributed import launch

        raise typer.Exit(launch(_without_launch_options(sys.argv[1:]), nproc_per_node, nnodes, rdzv_endpoint,
                                node_rank))

    if _is_herniation(recipe):
        if folds != 1 or validation_patients:
            raise InputError(None, "disc-herniation splits patients once, train / validation / test by the recipe's "
                                   "training.split; --folds and --validation-patients do not apply")
        _refuse_options(recipe, {"--data": data, "--stage": stage is not Stage.SEGMENT,
                                 "--patient-pattern": patient_pattern})
        index_path, labels_path = _herniation_tables(index_csv, labels_csv)
        with _progress() as progress:
            task = progress.add_task("training", total=None)
            summary = api.train_herniation(index_path, labels_path, out, epochs=epochs, ablation=ablation,
                                           recipe=recipe, progress=_described(progress, task))
        _show_herniation_models({mode: model["validation"] for mode, model in summary["models"].items()},
                                f"validation on {summary['patients']['validation']} held-out patients "
                                f"({summary['images']['validation']} images); {summary['patients']['test']} test "
                                "patients kept for evaluate")
        console.print(f"models, split.json, metrics.json and training_curve.png in {shown(out)}")
        return
    if synthetic == 0:
        data = _required(data, "--data")
    _refuse_options(recipe, {"--index": index_csv, "--labels": labels_csv and stage is not Stage.SEGMENT,
                             "--synthetic": synthetic and stage is not Stage.SEGMENT})
    with _progress() as progress:
        task = progress.add_task("training", total=None)
        summary = api.train(recipe, data, out, epochs=epochs, folds=folds, stage=stage, synthetic=synthetic,
                            label_mapping=labels_csv,
                            patient_pattern=patient_pattern,
                            validation_patients=tuple(p.strip() for p in validation_patients.split(",") if p.strip()),
                            progress=_described(progress, task))
    if os.environ.get("RANK", "0") != "0":  # a DDP process other than the first: the first reports
        return
    if stage is not Stage.SEGMENT:
        _show_classification(summary["validation"], f"held-out validation ({len(summary['validation_patients'])} "
                                                    f"patients, best epoch {summary['best_epoch']})")
        console.print(f"classifier and metrics in {shown(out / 'classifier')}" if stage is Stage.CLASSIFY else
                      f"tuned weights in {shown(out)}, history in {shown(out / 'joint.json')}")
        return
    held_out = len({p for fold in summary["folds"] for p in fold["validation_patients"]})
    folds = len(summary["folds"])
    table = Table(title=f"validation on {held_out} held-out of {summary['patients']} patients "
                        f"({summary['samples']} images{f', mean ± SD of {folds} folds' if folds > 1 else ''})")
    table.add_column("structure")
    table.add_column("Dice", justify="right")
    table.add_column("IoU", justify="right")
    spread = summary.get("sd_validation_dice") or {}
    for name, dice in summary["mean_validation_dice"].items():
        dice_text = f"{dice:.3f} ± {spread[name]:.3f}" if name in spread else f"{dice:.3f}"
        table.add_row(shown(name), dice_text, f"{summary['mean_validation_iou'][name]:.3f}")
    console.print(table)
    console.print(f"model, metrics.json and training_curve.png in {shown(out)}")


_LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--rdzv-endpoint", "--node-rank")


def _without_launch_options(arguments: list[str]) -> list[str]:
    """The command line without the options that only say how torchrun starts it."""
    kept: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument in _LAUNCH_OPTIONS:
            skip = True
        elif not argument.startswith(tuple(f"{option}=" for option in _LAUNCH_OPTIONS)):
            kept.append(argument)
    return kept


def _show_agreement(agreement: dict[str, Any], out: Path) -> None:
    """One row per measurement compared between predicted and reference masks."""
    if not agreement:
        return
    table = Table(title=f"measurements from predicted vs reference masks (Bland–Altman plots in {shown(out)})")
    for column in ("measurement", "n", "mean abs. error", "mean rel. error %", "bias", "Pearson r", "ICC(A,1)"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    for name, stats in agreement.items():
        if not stats["n"]:
            table.add_row(name.replace("_", " "), "0", *["–"] * 5)
            continue
        table.add_row(f"{name.replace('_', ' ')} [{shown(stats['unit'])}]", str(stats["n"]),
                      f"{stats['mean_absolute_error']:.3g}", f"{stats['mean_relative_error_percent']:.1f}",
                      f"{stats['bland_altman']['bias']:.3g}", f"{stats['pearson_r']:.3f}", f"{stats['icc_a1']:.3f}")
    console.print(table)


def _show_classification(scores: dict[str, float], title: str) -> None:
    table = Table(title=title)
    for name in ("accuracy", "F1", "sensitivity", "specificity", "ROC-AUC", "n"):
        table.add_column(name, justify="right")
    table.add_row(*(f"{scores[key]:.3f}" for key in ("accuracy", "f1", "sensitivity", "specificity", "roc_auc")),
                  str(scores["n"]))
    console.print(table)


@app.command()
@handles_errors
def run(recipe: Annotated[str, typer.Argument(help="Recipe to run (`radiomark recipes list`).")],
        out: Annotated[Path, typer.Option("--out", help="Output folder: OUT/<case>/ and OUT/cohort.csv.")],
        input_path: Annotated[Path | None, typer.Argument(metavar="[INPUT]", help="DICOM folder/file, NIfTI, or a "
                                                          "folder of studies (or --from a DICOMweb server).")
                              ] = None,
        sex: SexOption = None, height: HeightOption = None, weight: WeightOption = None,
        slice_index: SliceOption = None, table: TableOption = None,
        model: Annotated[Path | None, typer.Option("--model", help="Run folder of a trained model "
                                                                   "(default: the bundled model).")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Skip studies whose outputs are complete.")] = False,
        dicom_seg: Annotated[bool | None, typer.Option("--dicom-seg/--no-dicom-seg", help="Also write seg.dcm, a "
                                                       "DICOM Segmentation referencing the source series.",
                                                       show_default="no, or radiomark.toml")] = None,
        dicom_sr: Annotated[bool | None, typer.Option("--dicom-sr/--no-dicom-sr", help="Also write sr.dcm, a TID "
                                                      "1500 measurement report linked to seg.dcm (implies "
                                                      "--dicom-seg).", show_default="no, or radiomark.toml")
                            ] = None,
        spacing: Annotated[float | None, typer.Option("--spacing", help="Pixel size in mm for radiographs whose "
                                                                        "file has none (PNG/JPEG).")] = None,
        pdf: Annotated[bool | None, typer.Option("--pdf/--no-pdf", help="Also write report.pdf (one A4 page).",
                                                 show_default="no, or radiomark.toml")] = None,
        anonymize: Annotated[bool | None, typer.Option("--anonymize/--no-anonymize", help="De-identify seg.dcm / "
                                                       "sr.dcm (dicognito: consistent pseudonyms, UIDs, shifted "
                                                       "dates) and withhold source paths.",
                                                       show_default="no, or radiomark.toml")] = None,
        keep_identifiers: Annotated[str | None, typer.Option("--keep-identifiers", help="Comma-separated DICOM "
                                                      "identifiers to show in reports and tables: patient_name, "
                                                      "patient_id, birth_date, study_date, accession_number, "
                                                      "study_description, institution (default: none, or "
                                                      "radiomark.toml).")] = None,
        age: Annotated[float | None, typer.Option("--age", help="disc-herniation: age in years (default: "
                                                                "PatientAge).")] = None,
        sac_width: Annotated[str | None, typer.Option("--sac-width", help="disc-herniation: thecal sac width in "
                                                      "mm, one value or LEVEL=mm pairs (L4-L5=12.5,L5-S1=13).")
                             ] = None,
        canal_mask: Annotated[Path | None, typer.Option("--canal-mask", help="disc-herniation: canal label map "
                                                        "on the T2 axial series (recipe canal_labels = thecal sac) "
                                                        "to measure the sac from.")] = None,
        recipe_file: Annotated[Path | None, typer.Option("--recipe", help="An edited copy of RECIPE's YAML "
                                                         "(`radiomark recipes show RECIPE`): its post-processing, "
                                                         "measures, QC and tables are used.")] = None,
        series: SeriesOption = None, select: SelectOption = None, level: LevelOption = None,
        backend: Annotated[str, typer.Option("--backend", help="Network runtime: auto (ONNX Runtime where the "
                                             "model has an equal, faster ONNX export, as the bundled models do: "
                                             "torch is then never loaded), onnxruntime or torch.")] = "auto",
        workers: Annotated[int | None, typer.Option("--workers", help="Worker processes for a cohort, each "
                                                    "loading the models once.", show_default="one per core, "
                                                    "or RADIOMARK_WORKERS")] = None,
        from_url: Annotated[str | None, typer.Option("--from", help="Fetch the studies from a PACS instead of "
                                                     "INPUT: a DICOMweb server (dicomweb://HOST:PORT/PATH; "
                                                     "dicomwebs:// or https:// for TLS; login from "
                                                     "RADIOMARK_PACS_USERNAME / _PASSWORD or [pacs] in "
                                                     "radiomark.toml) or a DICOM node (dicom://AET@HOST:PORT).")
                            ] = None,
        study: Annotated[list[str] | None, typer.Option("--study", help="--from: a StudyInstanceUID to fetch "
                                                        "(repeatable).")] = None,
        query: Annotated[str | None, typer.Option("--query", help="--from: fetch every study matching these "
                                                  "filters (QIDO-RS or C-FIND), e.g. "
                                                  "'ModalitiesInStudy=CT&StudyDate=20260101-'.")] = None,
        to_url: Annotated[str | None, typer.Option("--to", help="Send each case's seg.dcm and sr.dcm to a PACS "
                                                   "(as --from; STOW-RS or C-STORE; implies --dicom-sr).")] = None,
        engine: Annotated[str, typer.Option("--engine", help="Where a cohort's cases run: local (worker "
                                            "processes) or dask (one task per study on a Dask cluster).")
                          ] = "local",
        cluster: Annotated[str | None, typer.Option("--cluster", help="--engine dask: the scheduler's address "
                                                    "(tcp://HOST:PORT).", show_default="a local cluster of "
                                                    "--workers processes")] = None,
        ) -> None:
    """Segment, measure and decide; writes label map, measurements, CSV and overlay per case
    (disc-herniation: per-level herniation probability from the chosen T2 axial series)."""
    from radiomark import api
    from radiomark.config import load_config

    herniation = _is_herniation(_registered(recipe))
    if (input_path is None) == (from_url is None):
        raise InputError(None, "give INPUT (files) or --from URL (a PACS), one of the two")
    source: Path | str = input_path if input_path is not None else str(from_url)
    pacs = None
    if not herniation:  # site defaults where the command line is silent
        config = load_config(_CONFIG["path"])[0]
        defaults, pacs = config.run, config.pacs
        table = table or defaults.tables.get(recipe)
        dicom_seg, dicom_sr, pdf, anonymize = (defaults.dicom_seg if dicom_seg is None else dicom_seg,
                                               defaults.dicom_sr if dicom_sr is None else dicom_sr,
                                               defaults.pdf if pdf is None else pdf,
                                               defaults.anonymize if anonymize is None else anonymize)
        keep_identifiers = ",".join(defaults.keep_identifiers) if keep_identifiers is None else keep_identifiers
    given = {"--height": height, "--weight": weight, "--slice": slice_index, "--level": level, "--table": table,
             "--dicom-seg": dicom_seg, "--dicom-sr": dicom_sr, "--spacing": spacing, "--pdf": pdf,
             "--anonymize": anonymize, "--keep-identifiers": keep_identifiers, "--recipe": recipe_file,
             "--backend": None if backend == "auto" else backend, "--workers": workers, "--from": from_url,
             "--study": study, "--query": query, "--to": to_url,
             "--engine": None if engine == "local" else engine, "--cluster": cluster}
    _refuse_options(recipe, given if herniation else {"--age": age, "--sac-width": sac_width,
                                                      "--canal-mask": canal_mask})
    from radiomark.pipeline.batch import BatchInterrupted

    interrupted = False
    with _progress() as progress:
        task = progress.add_task(f"{recipe}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            if herniation:
                fusion_model = _required(model, "--model (no bundled disc-herniation model: no labelled herniation "
                                                "data exists here)")
                batch = api.run_herniation(source, out, fusion_model,
                                           age_years=age, sex=sex, sac_width=_sac_widths(sac_width),
                                           canal_mask=canal_mask, resume=resume, series_uid=series,
                                           select=select, progress=advance)
            else:
                batch = api.run(recipe, source, out, sex=sex, height_m=height, weight_kg=weight,
                                slice_index=slice_index, model=model, table=table, resume=resume,
                                dicom_seg=bool(dicom_seg), dicom_sr=bool(dicom_sr), pixel_spacing_mm=spacing,
                                pdf=bool(pdf), anonymize=bool(anonymize),
                                keep_identifiers=tuple(name.strip() for name in (keep_identifiers or "").split(",")
                                                       if name.strip()),
                                recipe_file=recipe_file, series_uid=series, select=select, progress=advance,
                                level=level, backend=backend, workers=workers, studies=tuple(study or ()),
                                query=query, send_to=to_url, pacs=pacs,
                                engine=engine, cluster=cluster)
        except BatchInterrupted as stop:
            batch = stop.batch
            interrupted = True
    for result in batch.results:
        _show_result(result)
        if result.series:
            console.print(f"series: …{shown(result.series['uid'][-12:])} '{shown(result.series['description'])}': "
                          f"{shown(result.series['why'])}")
            for other in result.series.get("not_chosen", []):
                console.print(f"  not …{shown(other['uid'][-12:])} '{shown(other['description'])}': "
                              f"{shown(other['why'])}", style="dim")
        for picture in ("overlay.png", "levels.png"):
            if picture in result.outputs:
                console.print(f"{picture.removesuffix('.png')}: {shown(result.outputs[picture])}")
    for failure in batch.failures:
        errors.print(f"[red]failed:[/] {shown(failure.message)}", highlight=False, soft_wrap=True)
    _summarise_warnings(batch.warnings, out)
    if batch.cohort_csv is not None:
        resumed = f", {len(batch.resumed)} already done" if batch.resumed else ""
        console.print(f"{len(batch.results)} case(s) done, {len(batch.failures)} failed{resumed}; cohort table: "
                      f"{shown(batch.cohort_csv)}")
    if interrupted:
        errors.print(f"[yellow]interrupted:[/] {len(batch.results)} case(s) finished and kept in {shown(out)}; "
                     "run the same command with --resume to go on", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    if batch.failures:
        raise typer.Exit(1 if batch.results else EXIT_INPUT_ERROR)


@app.command()
@handles_errors
def fetch(url: Annotated[str, typer.Argument(help="A DICOMweb server (dicomweb://HOST:PORT/PATH; dicomwebs:// or "
                                                  "https:// for TLS) or a DICOM node (dicom://AET@HOST:PORT).")],
          out: Annotated[Path, typer.Option("--out", help="New folder: OUT/<StudyInstanceUID>/<series>/"
                                                          "<instance>.dcm.")],
          study: Annotated[list[str] | None, typer.Option("--study", help="A StudyInstanceUID (repeatable).")] = None,
          query: Annotated[str | None, typer.Option("--query", help="QIDO-RS or C-FIND filters, e.g. "
                                                    "'ModalitiesInStudy=CT&StudyDate=20260101-'.")] = None) -> None:
    """Fetch studies from a PACS into a folder (what `run --from` reads; also the --input that
    `reproduce` needs for a run that fetched its studies)."""
    from radiomark import api
    from radiomark.config import load_config

    with _progress() as progress:
        task = progress.add_task("fetching", total=None)
        folders = api.fetch(url, out, studies=tuple(study or ()), query=query,
                            pacs=load_config(_CONFIG["path"])[0].pacs,
                            progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"{len(folders)} study(ies) in {shown(out)}")


@app.command()
@handles_errors
def serve(recipe: Annotated[str, typer.Argument(help="Recipe to run on each study that arrives.")],
          out: Annotated[Path, typer.Option("--out", help="Folder: OUT/spool (arriving), OUT/results/<study>, "
                                                          "OUT/dead-letter/<study>.")],
          port: Annotated[int, typer.Option("--port", help="DICOM port of the storage SCP.")] = 11112,
          ae_title: Annotated[str, typer.Option("--ae-title", help="AE title of the storage SCP.")] = AE_TITLE,
          host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")
                          ] = "127.0.0.1",
          http_port: Annotated[int, typer.Option("--http-port", help="Port of the JSON status "
                                                 "(GET /status, /health).")] = 8080,
          to_url: Annotated[str | None, typer.Option("--to", help="Send each study's seg.dcm and sr.dcm to a PACS "
                                                     "(dicomweb://HOST:PORT/PATH or dicom://AET@HOST:PORT).")
                            ] = None,
          settle: Annotated[float, typer.Option("--settle", help="Seconds without a new instance after which a "
                                                "study counts as complete.")] = 10.0,
          queue: Annotated[int, typer.Option("--queue", help="Studies that may wait; beyond, senders are asked "
                                             "to retry later (C-STORE 0xA700).")] = 8,
          retries: Annotated[int, typer.Option("--retries", help="Runs again of a failed study before it goes "
                                               "to the dead-letter folder.")] = 2,
          model: Annotated[Path | None, typer.Option("--model", help="Run folder of a trained model "
                                                     "(default: the bundled model).")] = None,
          backend: Annotated[str, typer.Option("--backend", help="auto, onnxruntime or torch (as for run).")
                             ] = "auto") -> None:
    """Run as a DICOM router: a storage SCP takes studies in, each complete study runs through RECIPE
    (DICOM SEG and SR), results go back with --to; failures are retried, then kept in a dead-letter
    folder. One line per event on the terminal and in OUT/serve.log. Stops on Ctrl-C or SIGTERM
    after the study in progress."""
    import logging
    import signal
    import threading

    from radiomark import api
    from radiomark.config import load_config

    out.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(out / "serve.log", encoding="utf-8")]
    if not _VERBOSITY["quiet"]:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("radiomark.pipeline.router", "radiomark.io.storage_scp"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        for handler in handlers:
            logger.addHandler(handler)
    service = api.serve(recipe, out, ae_title=ae_title, host=host, port=port, http_port=http_port,
                        send_to=to_url, settle_s=settle, queue_size=queue, retries=retries, model=model,
                        backend=backend, pacs=load_config(_CONFIG["path"])[0].pacs)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"radiomark serve {recipe}: DICOM {shown(ae_title)}@{host}:{port}, status {service.status_url}"
                  f"{', results to ' + shown(to_url) if to_url else ''}; Ctrl-C stops")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    console.print("stopping: the study in progress finishes; queued studies stay in the spool for next time")
    service.stop()
    counts = service.router.status()["counts"]
    console.print(", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "no study received")


def _summarise_warnings(caught: list[str], out: Path) -> None:
    """Library warnings of a run: one line each with -v, none with -q, else one line in all."""
    if not caught or _VERBOSITY["quiet"]:
        return
    if _VERBOSITY["verbose"]:
        for line in caught:
            errors.print(f"[yellow]warning:[/] {shown(line)}", highlight=False, soft_wrap=True)
        return
    errors.print(f"[yellow]{len(caught)} kind(s) of library warning[/] (first: {shown(caught[0][:100])}); all in "
                 f"{shown(out / 'radiomark.log')}, or rerun with -v", highlight=False, soft_wrap=True)


def _refuse_options(recipe: str, given: dict[str, Any]) -> None:
    """Refuse the first of ``given`` (option → value) that was set: those options do not apply to ``recipe``."""
    for option, value in given.items():
        if value not in (None, False, ""):
            raise InputError(None, f"{option} does not apply to recipe {recipe}; see `radiomark run --help`")


def _sac_widths(text: str | None) -> dict[str, float] | float | None:
    """``"13.5"`` → 13.5; ``"L4-L5=12,L5-S1=13"`` → per-level values."""
    if text is None:
        return None
    try:
        if "=" not in text:
            return float(text)
        pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
        return {level.strip().upper(): float(value) for level, value in pairs}
    except ValueError:
        raise InputError(None, f"--sac-width {text!r}: give mm as a number or LEVEL=mm pairs") from None


@app.command("transfer-labels")
@handles_errors
def transfer_labels(
        moving: Annotated[Path, typer.Option("--moving", help="Image the labels were drawn on (e.g. the MRI): "
                                                              "DICOM folder or NIfTI.")],
        labels: Annotated[Path, typer.Option("--labels", help="Label map on the --moving grid (NIfTI).")],
        fixed: Annotated[Path, typer.Option("--fixed", help="Image to carry the labels to (e.g. the CT): DICOM "
                                                            "folder or NIfTI.")],
        out: Annotated[Path, typer.Option("--out", help="Output label map on the --fixed grid (.nii.gz); the "
                                                        "transform is written beside it (.tfm).")],
        report: Annotated[Path | None, typer.Option("--report", help="QC picture (PNG): labels on the fixed "
                                                                     "image and a checkerboard.")] = None,
        affine: Annotated[bool, typer.Option("--affine", help="Refine the rigid registration with an affine "
                                                              "one (different heads, templates).")] = False,
) -> None:
    """Register MOVING onto FIXED (rigid, mutual information) and carry LABELS onto the FIXED grid."""
    from radiomark import api

    with _progress() as progress:
        progress.add_task("registering", total=None)
        record = api.transfer_labels(moving, labels, fixed, out, report=report, affine=affine)
    console.print(f"{' + '.join(record['stages'])} registration, final Mattes mutual information "
                  f"{record['metric_mattes_mutual_information']:.4f} (lower is better), "
                  f"iterations {record['iterations']}")
    console.print(f"labels: {shown(record['output'])}; transform: {shown(record['transform_file'])}"
                  + (f"; QC picture: {shown(record['report'])}" if "report" in record else ""))


@app.command()
@handles_errors
def measure(recipe: Annotated[str, typer.Argument(help="Recipe name or a recipe YAML file.")],
            image: Annotated[Path, typer.Argument(help="The study (DICOM folder or file, NIfTI file, or a folder "
                                                       "of NIfTI echoes).")],
            mask: Annotated[Path, typer.Argument(help="Its label map: NIfTI (e.g. corrected in 3D Slicer), a "
                                                      "Slice-O-Matic .tag file or a DICOM SEG.")],
            out: Annotated[Path, typer.Option("--out", help="Output folder.")],
            sex: SexOption = None, height: HeightOption = None, weight: WeightOption = None,
            slice_index: SliceOption = None, table: TableOption = None, series: SeriesOption = None,
            select: SelectOption = None, labels: LabelsOption = None) -> None:
    """Re-measure from an existing (edited) mask, without a model."""
    from radiomark import api

    result = api.measure(recipe, image, mask, out, sex=sex, height_m=height, weight_kg=weight,
                         slice_index=slice_index, table=table, series_uid=series, select=select,
                         label_mapping=labels)
    _show_result(result)
    console.print(f"overlay: {shown(result.outputs['overlay.png'])}")


@app.command()
@handles_errors
def evaluate(recipe: Annotated[str, typer.Argument(help="Recipe of the model (`radiomark recipes list`).")],
             out: Annotated[Path, typer.Option("--out", help="Where evaluation.json, the per-case CSV and the "
                                                            "plots go.")],
             data: Annotated[Path | None, typer.Option("--data", help="Folder of held-out cases with labels "
                                                                      "(segment) or of class folders (classify).")
                             ] = None,
             index_csv: IndexOption = None, labels_csv: LabelsOption = None,
             model: Annotated[Path | None, typer.Option("--model", help="Run folder (default: bundled).")] = None,
             data_kind: Annotated[str, typer.Option("--data-kind", help="What the data is, for the record "
                                                    "(e.g. 'phantom', 'real, model-made masks').")] = "unspecified",
             stage: StageOption = Stage.SEGMENT, patient_pattern: PatientPatternOption = None,
             series: SeriesOption = None, select: SelectOption = None,
             ) -> None:
    """Held-out evaluation: Dice / IoU per structure and measurement agreement (Bland–Altman PNG), or
    classifier accuracy, F1 and ROC-AUC (ROC curve and confusion matrix PNG); disc-herniation: the
    run's models on held-out patients with bootstrap 95 % CIs, ROC, calibration and the ablation."""
    from radiomark import api

    if _is_herniation(_registered(recipe)):
        if (data is not None or stage is not Stage.SEGMENT or patient_pattern is not None or series is not None
                or select is not None):
            raise InputError(None, f"recipe {recipe} is evaluated from --index and --labels (the series were chosen "
                                   "by `radiomark index`); --data, --stage, --patient-pattern, --series and --select "
                                   "do not apply")
        index_path, labels_path = _herniation_tables(index_csv, labels_csv)
        with _progress() as progress:
            task = progress.add_task("evaluating", total=None)
            summary = api.evaluate_herniation(index_path, labels_path, _required(model, "--model"), out,
                                              data_kind=data_kind, progress=_described(progress, task))
        _show_herniation_models(summary["models"], f"{summary['images']} images of {summary['patients']} held-out "
                                                   f"patients ({data_kind}); 95 % CI, bootstrap over patients")
        excluded = summary["excluded_seen_patients"]
        console.print(f"evaluation.json, per_image.csv, roc.png, calibration.png in {shown(out)}"
                      + (f"; {excluded} patient(s) the run trained or validated on were left out" if excluded else ""))
        return
    data = _required(data, "--data")
    _refuse_options(recipe, {"--index": index_csv, "--labels": labels_csv and stage is not Stage.SEGMENT})
    with _progress() as progress:
        task = progress.add_task("evaluating", total=None)
        summary = api.evaluate(recipe, data, out, model=model, data_kind=data_kind, stage=stage,
                               patient_pattern=patient_pattern, series_uid=series, select=select,
                               progress=_described(progress, task), label_mapping=labels_csv)
    if stage is Stage.CLASSIFY:
        _show_classification(summary, f"{summary['images']} images of {summary['patients']} patients ({data_kind})")
    else:
        table = Table(title=f"{summary['cases']} images of {summary['patients']} patients ({data_kind})")
        for column in ("structure", "Dice", "IoU", "min IoU"):
            table.add_column(column)
        for name, dice in summary["dice"].items():
            table.add_row(name, f"{dice:.3f}", f"{summary['iou'][name]:.3f}", f"{summary['min_iou'][name]:.3f}")
        console.print(table)
        _show_agreement(summary["agreement"], out)
    if summary["leaked_patients"]:
        errors.print(f"[yellow]warning:[/] {len(summary['leaked_patients'])} patient(s) were used in training; "
                     "these figures are not held out")


@app.command()
@handles_errors
def reproduce(run_dir: Annotated[Path, typer.Argument(metavar="RUNDIR", help="Output folder of `radiomark run`.")],
              out: Annotated[Path, typer.Option("--out", help="Where to write the new run.")],
              input_path: Annotated[Path | None, typer.Option("--input", help="Where the run's input is now "
                                                              "(needed when the run was anonymised).")] = None
              ) -> None:
    """Run again what RUNDIR/run.json records (inputs and model checked unchanged by their SHA-256)
    and compare the measurements with RUNDIR/cohort.csv; exit 1 when they differ."""
    from radiomark import api

    with _progress() as progress:
        task = progress.add_task("reproduce", total=None)
        record = api.reproduce(run_dir, out, input_path=input_path,
                               progress=lambda done, total: progress.update(task, completed=done, total=total))
    if record["differences"]:
        console.print(f"[red]not reproduced[/]: {len(record['differences'])} differences")
        for line in record["differences"]:
            console.print(f"  {escape(line)}")
        raise typer.Exit(1)
    console.print(f"[green]reproduced[/]: {record['cases']} cases, the same measurements ({shown(out)})")


@app.command()
@handles_errors
def export(run_dir: Annotated[Path, typer.Argument(metavar="RUNDIR", help="Run folder of a trained model.")],
           onnx: Annotated[bool, typer.Option("--onnx", help="Export to ONNX (the only format so far).")] = False,
           repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timing repeats.")] = 10) -> None:
    """Export the networks of RUNDIR to ONNX, check them against PyTorch and time both; `run` then uses
    ONNX Runtime where it was equal and faster."""
    from radiomark import api

    if not onnx:
        raise RadiomarkError("choose a format: --onnx")
    record = api.export(run_dir, repeats=repeats)
    table = Table(title=f"ONNX export of {shown(run_dir)} (tolerance {record['tolerance']:g})")
    for column in ("network", "max |Δ probability|", "PyTorch ms", "ONNX Runtime ms", "used by run"):
        table.add_column(column)
    for part in ("segmenter", "classifier"):
        if part in record:
            row = record[part]
            table.add_row(part, f"{row['max_abs_difference']:.2e}", f"{row['torch_ms']:.1f}",
                          f"{row['onnxruntime_ms']:.1f}", row["preferred"])
    console.print(table)
