"""``run.json``: what a run was — its arguments, the command line, software versions, the recipe
and model it used (with SHA-256 hashes) and the SHA-256 of every input file — so that a result
can be audited and redone (``radiomark reproduce RUNDIR --out NEW``).

Under ``--anonymize`` the input path, the command line and the input file names are withheld
(paths often name the patient): the inputs are recorded by their hashes alone, and reproducing
the run needs the input given again (``--input``), which is checked against those hashes."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from radiomark import __version__
from radiomark.errors import InputError
from radiomark.outputs.options import WITHHELD
from radiomark.recipes.schema import Recipe

RUN_RECORD = "run.json"
RUN_SCHEMA = "radiomark.run/1"
#: Packages whose versions can change a result.
_PACKAGES = ("torch", "monai", "numpy", "scipy", "SimpleITK", "pydicom", "highdicom", "onnxruntime")
#: Files of a model folder that are not part of the model (training logs).
_NOT_MODEL = ("tensorboard",)


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def file_hashes(path: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """SHA-256 of ``path`` (a file) or of every file under it (a folder), keyed by the path
    relative to it (``"."`` for a file); folders named in ``skip`` are left out."""
    if path.is_file():
        return {".": sha256(path)}
    return {str(file.relative_to(path)): sha256(file) for file in sorted(path.rglob("*"))
            if file.is_file() and not set(file.relative_to(path).parts) & set(skip)}


def _versions() -> dict[str, str]:
    versions = {"radiomark": __version__, "python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_run_record(out: Path, arguments: Mapping[str, Any], recipe: Recipe, model_dir: Path,
                     fetched: Path | None = None) -> Path:
    """``out/run.json`` of a finished run: ``arguments`` are those of :func:`radiomark.api.run`
    (JSON values; ``input_path`` among them), ``recipe`` the recipe it ran with and ``model_dir``
    the model folder. ``fetched``: where the studies of a DICOMweb ``input_path`` were written
    (their files are hashed; reproducing needs them given again with ``--input``)."""
    recipe_text = json.dumps(recipe.model_dump(mode="json"), sort_keys=True)
    private = bool(arguments.get("anonymize"))
    inputs = file_hashes(fetched if fetched is not None else Path(arguments["input_path"]))
    document = {
        "schema": RUN_SCHEMA, "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": sys.argv if Path(sys.argv[0]).name == "radiomark" and not private else None,
        "arguments": dict(arguments, input_path=WITHHELD) if private else dict(arguments),
        "versions": _versions(), "platform": platform.platform(),
        "recipe": {"name": recipe.name, "sha256": hashlib.sha256(recipe_text.encode()).hexdigest()},
        "model": {"folder": str(model_dir.resolve()), "files": file_hashes(model_dir, _NOT_MODEL)},
        "inputs": ({"path": WITHHELD, "sha256": sorted(inputs.values())} if private else
                   {"path": arguments["input_path"] if fetched is not None else
                    str(Path(arguments["input_path"]).resolve()), "files": inputs}),
    }
    path = out / RUN_RECORD
    path.write_text(json.dumps(document, indent=2))
    return path


def read_run_record(run_dir: Path, input_path: Path | None = None) -> dict[str, Any]:
    """The ``run.json`` of ``run_dir`` with its arguments, checked: the inputs (at ``input_path``
    when given, which an anonymised run needs) and the model must be unchanged."""
    path = run_dir / RUN_RECORD
    if not path.is_file():
        raise InputError(run_dir, f"has no {RUN_RECORD}: not the output folder of `radiomark run`")
    record = json.loads(path.read_text())
    if record.get("schema") != RUN_SCHEMA:
        raise InputError(path, f"schema {record.get('schema')!r} is not {RUN_SCHEMA}")
    inputs = record["inputs"]
    if input_path is None and inputs["path"] == WITHHELD:
        raise InputError(path, "the run was anonymised and does not name its input: give it with --input")
    if input_path is None and "://" in inputs["path"]:
        raise InputError(path, f"the run fetched its studies from {inputs['path']}: give them with --input (a "
                               "folder written by `radiomark fetch` with the same --study / --query)")
    where = Path(input_path if input_path is not None else inputs["path"])
    if not where.exists():
        raise InputError(where, "the run's inputs are gone")
    now = file_hashes(where)
    if "sha256" in inputs:  # anonymised: contents only
        if sorted(now.values()) != inputs["sha256"]:
            raise InputError(where, "the run's inputs changed since (their SHA-256 differ from run.json)")
    else:
        _unchanged(where, now, inputs["files"], "inputs")
    model = Path(record["model"]["folder"])
    if not model.exists():
        raise InputError(model, "the run's model is gone")
    _unchanged(model, file_hashes(model, _NOT_MODEL), record["model"]["files"], "model")
    record["arguments"]["input_path"] = str(where)
    return record


def _unchanged(where: Path, now: Mapping[str, str], then: Mapping[str, str], what: str) -> None:
    changed = sorted(name for name in set(now) | set(then) if now.get(name) != then.get(name))
    if changed:
        raise InputError(where, f"the run's {what} changed since: {', '.join(changed[:5])}"
                                f"{f' and {len(changed) - 5} more' if len(changed) > 5 else ''}")


def compare_cohorts(first: Path, second: Path, relative: float = 1e-6) -> list[str]:
    """The differences between two ``cohort.csv`` files, one line each: cases present in only one,
    and numeric cells (measurements) that differ by more than ``relative``; text cells must match
    except the ``source`` column."""
    def rows(path: Path) -> dict[str, dict[str, str]]:
        with path.open(newline="") as stream:
            return {row["case"]: row for row in csv.DictReader(stream)}

    before, after = rows(first), rows(second)
    differences = [f"case {case} only in {where}" for where, mine, other in
                   ((first, before, after), (second, after, before)) for case in sorted(set(mine) - set(other))]
    for case in sorted(set(before) & set(after)):
        for column in sorted(set(before[case]) | set(after[case])):
            old, new = before[case].get(column, ""), after[case].get(column, "")
            if column == "source" or old == new:
                continue
            try:
                same = math.isclose(float(old), float(new), rel_tol=relative, abs_tol=1e-9)
            except ValueError:
                same = False
            if not same:
                differences.append(f"{case}: {column} was {old!r}, now {new!r}")
    return differences
