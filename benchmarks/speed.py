"""How long the user waits: cold single-study runs, cohort throughput, stages, peak memory.

    .venv/bin/python benchmarks/speed.py [--baseline REF] [--cohort 50] [--cold 5]

- **Cold single study** (per recipe): the whole `radiomark run` process from a fresh interpreter
  to its exit, median of ``--cold`` runs, and its peak resident memory. Inputs: the real CT slice
  `explicit_VR-UN.dcm` (sarcopenia), the real chest CR `RG1_UNCR.dcm` (neonatal-rds), a multi-echo
  DICOM phantom (nigra) and a DICOM head CT phantom (brain-gwr, with `--dicom-sr`: SEG + SR).
- **Per study after start-up**: a cohort of 8 copies of each input in one process (`--workers 1`);
  the median time between finished studies, the first left out (it pays for lazy imports).
- **Cohort throughput**: the same ``--cohort`` sarcopenia DICOM phantoms (512 × 512 slices) with
  1 worker, with one per core, and on a local Dask cluster of one worker process per core that the
  run starts (`--engine dask`).
- **Baseline**: the same measurements of the code at git ``--baseline`` (default: the commit
  before the torch-free path), checked out into `build/speed/baseline` and run with the same
  virtual environment and bundled models, in the same run, so the ratios compare like with like.
- **Stages**: `profile_inference.py`'s per-stage medians for the current code.

Results: `benchmarks/results/speed.json` and `.md` with machine, versions and commit; the speed
table between the `speed-table` markers of the README is rewritten from them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment  # noqa: E402
from profile_inference import profile, profile_volume  # noqa: E402

#: The commit before the torch-free inference path and worker processes (issue 20).
BASELINE = "41048fd"
RECIPES = ("sarcopenia", "neonatal-rds", "nigra", "brain-gwr")
#: Runs the CLI of the radiomark source tree SRC (first argument), the rest as its arguments.
LAUNCH = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from radiomark.cli import app; "
          "sys.argv[0] = 'radiomark'; app()")


def _inputs(folder: Path) -> dict[str, tuple[Path, list[str], str]]:
    """Per recipe: the study, extra arguments and what kind of data it is."""
    from pydicom.data import get_testdata_file

    from radiomark.phantoms import generate_case, write_case

    return {
        "sarcopenia": (Path(get_testdata_file("explicit_VR-UN.dcm", download=False)),
                       ["--sex", "M", "--height", "1.75", "--weight", "80"], "real CT slice, 512 × 512"),
        "neonatal-rds": (Path(get_testdata_file("RG1_UNCR.dcm", download=False)), [],
                         "real chest CR, 1955 × 1841"),
        "nigra": (write_case(generate_case("nigra", 1000), folder, "dicom"), [],
                  "multi-echo DICOM phantom, 20 × 64 × 64"),
        "brain-gwr": (write_case(generate_case("brain-gwr", 1000), folder, "dicom"), ["--dicom-sr"],
                      "head CT DICOM phantom, SEG + SR"),
    }


def _timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one process run to its end; a failure stops the benchmark."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {stderr[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def _cli(source: Path, arguments: list[str]) -> list[str]:
    return [sys.executable, "-c", LAUNCH, str(source / "src"), *arguments]


def _environment_for(workers: int | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "RADIOMARK_WORKERS"}
    if workers is not None:
        env["RADIOMARK_WORKERS"] = str(workers)
    return env


def cold(source: Path, recipe: str, study: Path, extra: list[str], repeats: int, work: Path) -> dict:
    """Median wall seconds and peak MiB of whole ``radiomark run`` processes on one study."""
    runs = []
    for index in range(repeats):
        out = work / f"cold-{recipe}-{index}"
        runs.append(_timed_process(_cli(source, ["run", recipe, str(study), "--out", str(out), *extra]),
                                   _environment_for(None)))
        shutil.rmtree(out)
    return {"seconds": statistics.median(s for s, _ in runs), "all_seconds": [s for s, _ in runs],
            "peak_mib": max(m for _, m in runs)}


#: Prints the seconds between finished studies of a one-process cohort run (the current API and the
#: baseline's take the same call).
PER_STUDY = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from radiomark import api
marks = []
extra = json.loads(sys.argv[5])
api.run(sys.argv[2], sys.argv[3], sys.argv[4], progress=lambda done, total: marks.append(time.perf_counter()),
        **extra)
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))
"""


def _copy_study(study: Path, target: Path, index: int) -> None:
    """A copy of the DICOM ``study`` (a file or a folder) under ``target`` as study number ``index``:
    new Study, Series, SOP Instance and Frame of Reference UIDs, the same for the same original."""
    import pydicom
    from pydicom.uid import generate_uid

    files = [study] if study.is_file() else sorted(p for p in study.rglob("*") if p.is_file() and p.suffix == ".dcm")
    for path in files:
        dataset = pydicom.dcmread(path)
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
            if keyword in dataset:
                setattr(dataset, keyword, generate_uid(entropy_srcs=[str(getattr(dataset, keyword)), str(index)]))
        if "SOPInstanceUID" in dataset:
            dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        destination = target / (path.relative_to(study) if study.is_dir() else Path(path.name))
        destination.parent.mkdir(parents=True, exist_ok=True)
        dataset.save_as(destination)


def per_study(source: Path, recipe: str, study: Path, extra: list[str], work: Path, copies: int = 8) -> float:
    """Median seconds per study after start-up in a one-process cohort of ``copies`` of ``study``
    (each its own study: new UIDs)."""
    cohort = work / f"cohort-{recipe}"
    for index in range(copies):
        _copy_study(study, cohort / f"study-{index:02d}", index)
    keywords = {"--sex": ("sex", str), "--height": ("height_m", float), "--weight": ("weight_kg", float)}
    given = {keywords[key][0]: keywords[key][1](value) for key, value in zip(extra[::2], extra[1::2], strict=False)
             if key in keywords}
    if "--dicom-sr" in extra:
        given["dicom_sr"] = True
    done = subprocess.run([sys.executable, "-c", PER_STUDY, str(source / "src"), recipe, str(cohort),
                           str(work / f"out-{recipe}"), json.dumps(given)], capture_output=True, text=True,
                          env=_environment_for(1))
    if done.returncode != 0:
        raise SystemExit(f"{recipe} cohort with {source} failed: {done.stderr[-800:]}")
    output = done.stdout
    shutil.rmtree(cohort)
    shutil.rmtree(work / f"out-{recipe}")
    return statistics.median(json.loads(output.splitlines()[-1]))


def throughput(source: Path, cohort: Path, workers: int | None, work: Path, engine: str = "local") -> dict:
    """Wall seconds and studies per second of one ``radiomark run`` over ``cohort`` (``engine``
    ``dask``: a local Dask cluster of ``workers`` processes that the run starts)."""
    out = work / f"throughput-{engine}-{workers}"
    extra = ["--engine", "dask", "--workers", str(workers)] if engine == "dask" else []
    seconds, peak = _timed_process(_cli(source, ["run", "sarcopenia", str(cohort), "--out", str(out), *extra]),
                                   _environment_for(workers))
    studies = sum(1 for _ in cohort.iterdir())
    shutil.rmtree(out)
    return {"engine": engine, "workers": workers, "seconds": seconds, "studies_per_second": studies / seconds,
            "peak_mib": peak}


def baseline_tree(ref: str) -> Path:
    """A checkout of ``ref`` under build/speed/baseline (made once; reused while it is at ``ref``)."""
    target = ROOT / "build" / "speed" / "baseline"
    wanted = subprocess.run(["git", "rev-parse", ref], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    if target.is_dir():
        current = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=target).stdout
        if current == wanted:
            return target
        subprocess.run(["git", "worktree", "remove", "--force", str(target)], check=True, cwd=ROOT)
    subprocess.run(["git", "worktree", "add", "--detach", str(target), ref], check=True, cwd=ROOT,
                   capture_output=True)
    return target


def measure(source: Path, inputs: dict, cohort: Path, cold_repeats: int, work: Path) -> dict:
    from radiomark.pipeline.batch import available_cores

    return {"cold": {recipe: cold(source, recipe, study, extra, cold_repeats, work)
                     for recipe, (study, extra, _) in inputs.items()},
            "per_study_seconds": {recipe: per_study(source, recipe, study, extra, work)
                                  for recipe, (study, extra, _) in inputs.items()},
            "cohort": [throughput(source, cohort, 1, work)]
            + ([throughput(source, cohort, available_cores(), work),
                throughput(source, cohort, available_cores(), work, "dask")] if source == ROOT else [])}


def markdown(results: dict) -> str:
    machine = results["environment"]
    now, before = results["current"], results["baseline"]
    lines = ["# Speed: what the user waits for", "",
             f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores, no GPU; commit "
             f"{machine['git_commit'][:10]}; baseline {results['baseline_ref']} measured in the same run.", "",
             "## Cold single study (whole process, median of "
             f"{results['cold_repeats']}) and after start-up (median per study in a one-process cohort)", "",
             "| recipe | input (data kind) | cold s | baseline cold s | speed-up | peak MiB | per study s "
             "| baseline per study s |", "|---|---|---|---|---|---|---|---|"]
    for recipe in RECIPES:
        new, old = now["cold"][recipe], before["cold"][recipe]
        lines.append(f"| {recipe} | {results['inputs'][recipe]} | {new['seconds']:.2f} | {old['seconds']:.2f} | "
                     f"{old['seconds'] / new['seconds']:.1f}× | {new['peak_mib']:.0f} | "
                     f"{now['per_study_seconds'][recipe]:.3f} | {before['per_study_seconds'][recipe]:.3f} |")
    single_old = before["cohort"][0]
    lines += ["", f"## Cohort throughput: {results['cohort_size']} sarcopenia DICOM phantoms (512 × 512)", "",
              "| code | engine | workers | wall s | studies / s | vs baseline | peak MiB (parent) |",
              "|---|---|---|---|---|---|---|"]
    for code, rows in (("baseline", before["cohort"]), ("current", now["cohort"])):
        for row in rows:
            lines.append(f"| {code} | {row.get('engine', 'local')} | {row['workers']} | {row['seconds']:.1f} | "
                         f"{row['studies_per_second']:.2f} | "
                         f"{row['studies_per_second'] / single_old['studies_per_second']:.2f}× | "
                         f"{row['peak_mib']:.0f} |")
    lines += ["", "## Goals (issue 20)", "", "| goal | measured | met |", "|---|---|---|"]
    for goal, value, met in goals(results):
        lines.append(f"| {goal} | {value} | {'yes' if met else '**no**'} |")
    lines += ["", "## Share of time per stage (current code, `profile_inference.py`)", ""]
    for entry in results["stages"]:
        total = entry["total_ms"]
        shares = ", ".join(f"{stage} {100 * ms / total:.0f} %" for stage, ms in entry["stages_ms"].items())
        lines.append(f"- **{entry['recipe']}** ({entry['input']}, {entry['backend']}), {total:.0f} ms: {shares}")
    return "\n".join(lines) + "\n"


def goals(results: dict) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for each goal of issue 20."""
    now, before = results["current"], results["baseline"]
    cold_sarcopenia = now["cold"]["sarcopenia"]["seconds"]
    speed_up = before["cold"]["sarcopenia"]["seconds"] / cold_sarcopenia
    best = max(row["studies_per_second"] for row in now["cohort"])
    cohort_ratio = best / before["cohort"][0]["studies_per_second"]
    rows = [("cold single-slice sarcopenia ≤ 1.5 s and ≥ 4× faster", f"{cold_sarcopenia:.2f} s, {speed_up:.1f}×",
             cold_sarcopenia <= 1.5 and speed_up >= 4),
            ("cohort throughput ≥ 1.8× the baseline single process", f"{cohort_ratio:.2f}×", cohort_ratio >= 1.8)]
    for recipe in ("sarcopenia", "neonatal-rds"):
        value = now["per_study_seconds"][recipe]
        rows.append((f"{recipe}: ≤ 0.3 s per study after start-up (report, overlay)", f"{value:.3f} s", value <= 0.3))
    value = now["per_study_seconds"]["brain-gwr"]
    rows.append(("brain-gwr: ≤ 3 s per study with SEG + SR", f"{value:.2f} s", value <= 3.0))
    return rows


def readme_table(results: dict) -> str:
    """The README's speed table."""
    now, before = results["current"], results["baseline"]
    lines = ["| recipe | cold run, whole process | per study in a cohort | "
             f"before (commit {results['baseline_ref']}) |", "|---|---|---|---|"]
    for recipe in RECIPES:
        lines.append(f"| {recipe} | {now['cold'][recipe]['seconds']:.1f} s | "
                     f"{now['per_study_seconds'][recipe]:.2f} s | {before['cold'][recipe]['seconds']:.1f} s / "
                     f"{before['per_study_seconds'][recipe]:.2f} s |")
    best = max((row for row in now["cohort"] if row["engine"] == "local"), key=lambda row: row["studies_per_second"])
    lines += ["", f"{results['cohort_size']} studies: {best['seconds']:.0f} s with {best['workers']} workers "
                  f"({best['studies_per_second'] / before['cohort'][0]['studies_per_second']:.1f}× the single "
                  f"process before). "
                  f"{results['environment']['cpu_cores']}-core CPU, no GPU; "
                  "[benchmarks/results/speed.md](benchmarks/results/speed.md)."]
    return "\n".join(lines)


def update_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- speed-table -->", "<!-- /speed-table -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        readme.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BASELINE, help="git ref to compare with (default: %(default)s)")
    parser.add_argument("--cohort", type=int, default=50, help="studies in the throughput cohort")
    parser.add_argument("--cold", type=int, default=5, help="cold runs per recipe (median)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    from radiomark.phantoms import generate_case, write_case

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        inputs = _inputs(work / "inputs")
        cohort = work / "cohort"
        for seed in range(args.cohort):
            write_case(generate_case("sarcopenia", 5000 + seed), cohort, "dicom")
        baseline = measure(baseline_tree(args.baseline), inputs, cohort, args.cold, work)
        current = measure(ROOT, inputs, cohort, args.cold, work)
        results = {"benchmark": "speed", "environment": environment(("radiomark", "onnxruntime", "numpy",
                                                                      "SimpleITK", "pydicom", "torch", "monai")),
                   "baseline_ref": args.baseline, "cold_repeats": args.cold, "cohort_size": args.cohort,
                   "inputs": {recipe: kind for recipe, (_, _, kind) in inputs.items()},
                   "baseline": baseline, "current": current,
                   "stages": [profile(name, 3) for name in ("sarcopenia", "neonatal-rds")]
                   + [entry for entry in (profile_volume(name, 2) for name in ("nigra", "brain-gwr")) if entry]}
    results["goals"] = [{"goal": goal, "measured": value, "met": met} for goal, value, met in goals(results)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2))
    (args.out / "speed.md").write_text(markdown(results))
    update_readme(readme_table(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
