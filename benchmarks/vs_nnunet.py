"""radiomark against nnU-Net v2 on the same data, split and machine, with the same training time.

    .venv/bin/python benchmarks/vs_nnunet.py --recipe brain-gwr [--radiomark-run RUNDIR --data WORK] [--epochs N]
    .venv/bin/python benchmarks/vs_nnunet.py --recipe neonatal-rds [--radiomark-run RUNDIR]

* Set-up: nnU-Net v2 goes into its own virtual environment (``build/nnunet/venv``, created here when
  missing: ``pip install torch==2.13.0``, then ``pip install -c constraints.txt nnunetv2`` with the
  torch pin); it is never a radiomark dependency. ``nnunet_runner.py`` runs there.
* Data and split: ``brain-gwr`` — the semi-synthetic CQ500-template cohort of
  ``benchmarks/brain_gwr.py`` (train 48 patients, test 12 never seen); ``neonatal-rds`` — JSRT lungs
  split as ``benchmarks/neonatal_rds.py`` does (158 / 40 patients). Both methods validate on the
  same patients: those the radiomark run validated on (its ``metrics.json``).
* Budget: radiomark trains its recipe (or ``--radiomark-run`` gives a finished run of it, whose
  epochs' recorded seconds are summed); nnU-Net then gets that same wall-clock time on the same
  machine, with its own planning (3d_fullres or 2d), architecture, augmentation and loss; its
  epochs hold 25 iterations, and the schedule is fitted to the budget after the first epoch.
* Scores: Dice per structure of each method's prediction against the same reference, on the
  image grid, computed here with radiomark's metric code; inference seconds per case (radiomark:
  segmenter and post-processing; nnU-Net: ``nnUNetPredictor``, sliding window, no mirroring);
  peak resident memory of each training process.
Results: benchmarks/results/vs_nnunet_<recipe>.json and .md, with machine, versions and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment, machine_line  # noqa: E402

from radiomark.image import LabelMap  # noqa: E402
from radiomark.inference.predictor import Segmenter  # noqa: E402
from radiomark.io.nifti import read_nifti, write_nifti  # noqa: E402
from radiomark.metrics import overlap_scores  # noqa: E402
from radiomark.pipeline.steps import postprocess  # noqa: E402
from radiomark.recipes import load_recipe  # noqa: E402
from radiomark.training.data import find_case_folders, load_case_folder  # noqa: E402

NNUNET = ROOT / "build" / "nnunet"
DATASETS = {"brain-gwr": (501, "3d_fullres", "CT"), "neonatal-rds": (502, "2d", "X-ray")}


def nnunet_python() -> Path:
    """The nnU-Net virtual environment's python, installed on first use."""
    python = NNUNET / "venv" / "bin" / "python"
    if not python.is_file():
        NNUNET.mkdir(parents=True, exist_ok=True)
        (NNUNET / "constraints.txt").write_text("torch==2.13.0\n")
        subprocess.run([sys.executable, "-m", "venv", str(NNUNET / "venv")], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "torch==2.13.0"], check=True)
        subprocess.run([*pip, "-c", str(NNUNET / "constraints.txt"), "nnunetv2"], check=True)
    return python


def split(recipe: str, data: Path) -> tuple[Path, Path]:
    """(train folder, test folder) of the recipe's benchmark, made under ``data`` (its work folder)."""
    if recipe == "brain-gwr":
        from brain_gwr import cohort

        return cohort(data)
    from neonatal_rds import jsrt_split

    return jsrt_split(data)


def write_raw(recipe: str, train: Path, test: Path, raw: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """The train cases as nnU-Net raw data (``imagesTr``, ``labelsTr``, ``dataset.json``) and the
    test images (``imagesTs``); returns case -> patient and test case -> folder."""
    spec = load_recipe(recipe)
    dataset_id, _, channel = DATASETS[recipe]
    folder = raw / f"Dataset{dataset_id}_{recipe.replace('-', '')}"
    patients, tests = {}, {}
    for kind, source in (("Tr", train), ("Ts", test)):
        (folder / f"images{kind}").mkdir(parents=True, exist_ok=True)
        (folder / "labelsTr").mkdir(parents=True, exist_ok=True)
        for case_folder in find_case_folders(source):
            (case,) = load_case_folder(case_folder, spec)  # a radiograph or a volume: one case each
            name = case_folder.name
            image = case.image.as_volume() if case.image.ndim == 2 else case.image
            labels = case.labels.as_volume() if case.labels.ndim == 2 else case.labels
            if not (folder / f"images{kind}" / f"{name}_0000.nii.gz").is_file():
                write_nifti(image, folder / f"images{kind}" / f"{name}_0000.nii.gz")
                if kind == "Tr":
                    write_nifti(labels, folder / "labelsTr" / f"{name}.nii.gz")
            if kind == "Tr":
                patients[name] = case.patient_id
            else:
                tests[name] = case_folder
    labels_json = {"background": 0, **{name: value for value, name in sorted(spec.labels.items())}}
    (folder / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": channel}, "labels": labels_json, "numTraining": len(patients),
        "file_ending": ".nii.gz"}, indent=1))
    return patients, tests


def radiomark_side(recipe: str, train: Path, run: Path | None, work: Path, epochs: int | None) -> tuple[Path, dict]:
    """A radiomark run of the recipe on ``train`` (trained here in a child process unless given)."""
    record: dict[str, Any] = {}
    if run is None:
        run = work / "radiomark-run"
        command = [str(ROOT / ".venv" / "bin" / "radiomark"), "train", recipe, "--data", str(train), "--out", str(run)]
        subprocess.run([*command, *(["--epochs", str(epochs)] if epochs else [])], check=True)
        record["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    metrics = json.loads((run / "metrics.json").read_text())
    (fold,) = metrics["folds"]
    history = json.loads((run / "fold_0" / "history.json").read_text())
    seconds = sum(epoch.get("seconds", 0.0) for epoch in history)
    if not seconds:
        sys.exit(f"{run}: its history records no epoch times; retrain it with this radiomark version")
    record |= {"run": str(run), "epochs": len(history), "training_wall_s": seconds,
               "validation_patients": fold["validation_patients"]}
    return run, record


def score(labels: LabelMap, reference: LabelMap) -> dict[str, float]:
    return {name: pair["dice"] for name, pair in overlap_scores(labels, reference).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=sorted(DATASETS), required=True)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--radiomark-run", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=None,
                        help="the recipe benchmark's work folder holding its data and split (default: a new one "
                             "under --work); give the folder a --radiomark-run was trained from")
    parser.add_argument("--epochs", type=int, default=None, help="radiomark epochs (default: the recipe's)")
    args = parser.parse_args()
    work = args.work or ROOT / "build" / f"vs-nnunet-{args.recipe}"
    work.mkdir(parents=True, exist_ok=True)
    train, test = split(args.recipe, args.data or work / "data")
    run, ours = radiomark_side(args.recipe, train, args.radiomark_run, work, args.epochs)
    patients, tests = write_raw(args.recipe, train, test, work / "nnUNet_raw")
    dataset_id, configuration, _ = DATASETS[args.recipe]
    validation = [case for case, patient in patients.items() if patient in set(ours["validation_patients"])]
    arguments = {"raw": str(work / "nnUNet_raw"), "preprocessed": str(work / "nnUNet_preprocessed"),
                 "results": str(work / "nnUNet_results"), "dataset_id": dataset_id, "configuration": configuration,
                 "budget_s": ours["training_wall_s"], "validation": validation,
                 "test_images": {case: str(work / "nnUNet_raw" / f"Dataset{dataset_id}_{args.recipe.replace('-', '')}"
                                           / "imagesTs" / f"{case}_0000.nii.gz") for case in tests},
                 "predictions": str(work / "nnunet-predictions"), "record": str(work / "nnunet.json")}
    (work / "nnunet-arguments.json").write_text(json.dumps(arguments, indent=1))
    if not (work / "nnunet.json").is_file():
        subprocess.run([str(nnunet_python()), str(ROOT / "benchmarks" / "nnunet_runner.py"),
                        str(work / "nnunet-arguments.json")], check=True, env={**os.environ})
    theirs = json.loads((work / "nnunet.json").read_text())
    recipe = load_recipe(run / "recipe.yaml")
    segmenter = Segmenter.load(run, backend="torch")
    dice_ours, dice_theirs, seconds_ours = [], [], []
    for case, folder in tests.items():
        (sample,) = load_case_folder(folder, recipe)
        start = time.perf_counter()
        predicted = postprocess(recipe, sample.image, segmenter.segment(sample.study.channels).labels)
        seconds_ours.append(time.perf_counter() - start)
        dice_ours.append(score(predicted, sample.labels))
        stored = read_nifti(work / "nnunet-predictions" / f"{case}.nii.gz")
        array = np.asarray(stored.array).reshape(sample.labels.shape).astype(np.uint8)
        dice_theirs.append(score(LabelMap.like(sample.labels, array, sample.labels.labels), sample.labels))
    names = list(dice_ours[0])
    results = {"environment": environment(("radiomark", "torch", "monai", "numpy", "SimpleITK")),
               "recipe": args.recipe, "train_cases": len(patients), "validation_cases": len(validation),
               "test_cases": len(tests),
               "radiomark": ours | {"dice": {n: float(np.mean([d[n] for d in dice_ours])) for n in names},
                                    "inference_s_per_case": statistics.median(seconds_ours)},
               "nnunet": theirs | {"dice": {n: float(np.mean([d[n] for d in dice_theirs])) for n in names},
                                   "inference_s_per_case": statistics.median(theirs["inference_s"].values())}}
    output = ROOT / "benchmarks" / "results" / f"vs_nnunet_{args.recipe.replace('-', '_')}.json"
    output.write_text(json.dumps(results, indent=2))
    output.with_suffix(".md").write_text(markdown(results))
    print(output.with_suffix(".md").read_text())


def markdown(results: dict[str, Any]) -> str:
    ours, theirs = results["radiomark"], results["nnunet"]
    names = list(ours["dice"])
    lines = [f"# radiomark vs nnU-Net v2: {results['recipe']}", "", machine_line(results["environment"]), "",
             f"Same data and split ({results['train_cases']} training cases of which {results['validation_cases']} "
             f"validate, {results['test_cases']} test cases never seen), same machine, same training wall-clock "
             f"budget: {ours['training_wall_s'] / 60:.0f} min (radiomark's own training time). Budget-limited: "
             "nnU-Net's default schedule (1000 epochs of 250 iterations) does not fit a CPU.", "",
             "| | " + " | ".join(names) + " | mean Dice | training | inference s/case | peak memory MB |",
             "|---|" + "---|" * (len(names) + 4)]
    plans = theirs["plans"]
    for label, row, training in (
            ("radiomark", ours, f"{ours['epochs']} epochs, {ours['training_wall_s'] / 60:.0f} min"),
            ("nnU-Net v2", theirs, f"{theirs['iterations']} iterations of batch {plans['batch_size']} × patch "
                                   f"{'×'.join(map(str, plans['patch_size']))}, "
                                   f"{theirs['training_wall_s'] / 60:.0f} min ({theirs['configuration']})")):
        memory = f"{row['peak_memory_mb']:.0f}" if "peak_memory_mb" in row else "not measured"
        lines.append(f"| {label} | " + " | ".join(f"{row['dice'][n]:.3f}" for n in names)
                     + f" | {np.mean(list(row['dice'].values())):.3f} | {training} | "
                     f"{row['inference_s_per_case']:.2f} | {memory} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
