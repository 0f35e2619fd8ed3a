"""nigra benchmark: held-out Dice per structure, agreement of every measure between predicted and
reference masks, CPU seconds per case.

    .venv/bin/python benchmarks/nigra.py [--model RUNDIR] [--work build/nigra] [--skip-real] [--compare-vnet]
    .venv/bin/python benchmarks/nigra.py --train-default-model   # what `make default-model-nigra` runs

Data:
* synthetic phantoms (multi-echo GRE + QSM, :mod:`radiomark.recipes.nigra.phantom`): the bundled model is
  trained on seeds 0–79 and scored on seeds 100000–100039, never seen; agreement (Pearson r,
  ICC(A,1), Bland–Altman) of each measure on predicted vs true masks.
* real neuromelanin MRI of 2 volunteers (../shared/data/mri-neuromelanin-kcl, single image, no
  echoes, no QSM; atlas-derived SN-VTA and crus cerebri masks split at the midline by
  :mod:`radiomark.recipes.nigra.dataset`): leave one subject out. A single-image variant of
  the recipe (``inputs.echoes: [1]``, 16 × 96 × 96 patches for more anatomical context, half of
  them on labelled voxels) is trained on ``REAL_PHANTOMS`` phantoms' first echo plus the other
  subject (repeated ``REAL_COPIES`` times so it weighs in) and scored on the left-out subject. It
  keeps its last epoch: validating on phantoms picked epochs by the phantoms, which do not
  resemble a whole-head NM image (a first run did so and failed on both subjects). Two subjects
  give two figures, not a distribution.
* ``--compare-vnet``: the recipe's own VNet against the bundled DynUNet, same phantoms, same
  epochs: held-out Dice, parameters, training and inference time (why the bundled model is not
  the VNet).
* timing: DICOM phantom study → every output, and the network alone, on this machine's CPU.
Results go to benchmarks/results/nigra.json and .md with machine, versions and git commit.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment, machine_line  # noqa: E402

from radiomark import api  # noqa: E402
from radiomark.inference.predictor import Segmenter, bundled_model_dir  # noqa: E402
from radiomark.io.study import read_study  # noqa: E402
from radiomark.phantoms import generate_case, write_case  # noqa: E402

TRAIN_SEEDS = range(0, 80)
HELD_OUT_SEEDS = range(100000, 100040)
REAL_COPIES = 24
REAL_PHANTOMS = 16
PHANTOM_KIND = "synthetic phantom (seeds 100000+, never trained on)"
#: The bundled model: the recipe with a small DynUNet (planned), Dice + BCE.
DEFAULT_MODEL_CHANGES = {"network": {"name": "dynunet", "channels": [8, 16, 32, 64], "strides": None},
                         "preprocessing": {"patch_size": None},
                         "loss": {"lambda_bce": 1.0},
                         "training": {"epochs": 40, "learning_rate": 0.002}}


def variant(path: Path, changes: dict[str, Any]) -> Path:
    """The bundled nigra recipe with ``changes`` (section -> fields) written to ``path``."""
    from radiomark.recipes import recipe_document

    document, _ = recipe_document("nigra")
    for section, fields in changes.items():
        if isinstance(fields, dict) and isinstance(document.get(section), dict) and section != "network":
            document[section].update(fields)
        else:
            document[section] = fields
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def phantoms(folder: Path, seeds: range, fmt: str = "nifti") -> Path:
    """Phantom cases of ``seeds`` under ``folder`` (existing ones kept)."""
    for seed in seeds:
        if not (folder / f"nigra-{seed:04d}" / "truth.json").is_file():
            write_case(generate_case("nigra", seed), folder, fmt)
    return folder


def train_default_model(work: Path) -> Path:
    """The bundled model's run folder (``work/run``), trained on phantom seeds 0–79."""
    recipe = variant(work / "nigra-dynunet.yaml", DEFAULT_MODEL_CHANGES)
    api.train(str(recipe), phantoms(work / "train", TRAIN_SEEDS), work / "run")
    return work / "run"


def parameters(run: Path) -> int:
    return sum(p.numel() for p in Segmenter.load(run, backend="torch").networks[0].module.parameters())  # type: ignore[attr-defined]


def compare_vnet(work: Path, epochs: int) -> dict[str, Any]:
    """VNet (the recipe's network) and the bundled DynUNet trained alike on 40 phantoms."""
    train = phantoms(work / "train", range(0, 40))
    held_out = phantoms(work / "held-out", HELD_OUT_SEEDS)
    results = {}
    for name, changes in (("vnet (recipe)", {"loss": {"lambda_bce": 1.0}, "training": {"epochs": epochs}}),
                          ("dynunet (bundled)", {**DEFAULT_MODEL_CHANGES, "training": {"epochs": epochs,
                                                                                       "learning_rate": 0.002}})):
        run = work / f"compare-{name.split()[0]}"
        start = time.process_time()
        api.train(str(variant(work / f"{name.split()[0]}.yaml", changes)), train, run)
        training_s = time.process_time() - start
        start = time.perf_counter()
        summary = api.evaluate("nigra", held_out, work / f"compare-{name.split()[0]}-eval", model=run,
                               data_kind=PHANTOM_KIND)
        results[name] = {"epochs": epochs, "training_cases": 40, "parameters": parameters(run),
                         "weights_mb": (run / "fold_0" / "best.pt").stat().st_size / 2**20,
                         "training_cpu_s": training_s,
                         "inference_s_per_case": (time.perf_counter() - start) / summary["cases"],
                         "dice": summary["dice"]}
    return results


NM_RECIPE_CHANGES = {**DEFAULT_MODEL_CHANGES, "inputs": {"echoes": [1], "qsm_selector": None},
                     "preprocessing": {"patch_size": [16, 96, 96]},
                     "training": {"epochs": 40, "learning_rate": 0.002, "validation_interval": 40,
                                  "foreground_patch_fraction": 0.5}}


def nm_phantoms(folder: Path, seeds: range) -> Path:
    """Single-contrast neuromelanin phantoms (:func:`radiomark.recipes.nigra.phantom.generate_nm`)."""
    from radiomark.recipes.nigra.phantom import generate_nm

    for seed in seeds:
        if not (folder / f"nigra-nm-{seed:04d}" / "truth.json").is_file():
            write_case(generate_nm(seed), folder, "nifti")
    return folder


def train_nm(work: Path, subjects: list[Path], copies: int, epochs: int) -> Path:
    """The single-contrast variant trained on ``REAL_PHANTOMS`` NM phantoms plus ``subjects`` (each
    repeated ``copies`` times so that they weigh in; one subject's copies are one patient, so they
    stay on one side of any split); it keeps its last epoch (validated once, on 8 more phantoms)."""
    train_phantoms = nm_phantoms(work / "train-nm", range(0, REAL_PHANTOMS + 8))
    recipe = variant(work / "nigra-nm.yaml", {**NM_RECIPE_CHANGES, "training": {
        **NM_RECIPE_CHANGES["training"], "epochs": epochs, "validation_interval": epochs}})
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    for case in sorted(train_phantoms.iterdir())[:REAL_PHANTOMS + 8]:
        if not (data / case.name).exists():
            os.symlink(case.resolve(), data / case.name)
    for subject in subjects:
        for copy in range(copies):
            if not (data / f"{subject.name}-copy{copy}").exists():
                os.symlink(subject.resolve(), data / f"{subject.name}-copy{copy}")
    validation = tuple(f"nigra-nm-{seed:04d}" for seed in range(REAL_PHANTOMS, REAL_PHANTOMS + 8))
    if not (work / "run" / "fold_0" / "best.pt").is_file():  # a finished fold is kept (rerun: scores only)
        api.train(str(recipe), data, work / "run", validation_patients=validation)
    return work / "run"


def real_leave_one_out(work: Path, epochs: int, only: set[str] | None = None) -> dict[str, Any]:
    """The single-contrast variant trained on NM phantoms + one subject, scored on the other
    (``only``: the folds of these left-out subjects, e.g. ``kcl-sub-002``)."""
    from radiomark.recipes.nigra.dataset import import_kcl

    source = DATA / "mri-neuromelanin-kcl"
    if not source.is_dir():
        return {"skipped": f"{source} not found"}
    subjects = import_kcl(source, work / "kcl")
    results = {}
    for held in subjects:
        if only and held.name not in only:
            continue
        other = next(s for s in subjects if s != held)
        fold = work / f"loso-nm-{held.name}"
        run = train_nm(fold, [other], REAL_COPIES, epochs)
        test = fold / "test"
        test.mkdir(exist_ok=True)
        if not (test / held.name).exists():
            os.symlink(held.resolve(), test / held.name)
        summary = api.evaluate(str(fold / "nigra-nm.yaml"), test, fold / "eval",
                               model=run, data_kind=f"real NM MRI, {held.name} left out (atlas-derived masks)")
        with open(fold / "eval" / "per_case.csv", newline="") as stream:
            (row,) = list(csv.DictReader(stream))
        measures = {name: {"predicted": float(row[name]), "reference": float(row[f"reference_{name}"]),
                           "unit": stats["unit"]}
                    for name, stats in summary["agreement"].items() if stats["n"]}
        results[held.name] = {"trained_on": f"{REAL_PHANTOMS} NM phantoms + {other.name} x{REAL_COPIES}",
                              "epochs": epochs, "dice": summary["dice"], "measures": measures,
                              "commit": environment()["git_commit"][:10]}
    return results


def train_nm_model(work: Path, epochs: int) -> Path:
    """The bundled single-contrast model (``weights/nigra-nm``): NM phantoms plus both volunteers."""
    from radiomark.recipes.nigra.dataset import import_kcl

    subjects = import_kcl(DATA / "mri-neuromelanin-kcl", work / "kcl")
    return train_nm(work / "nm-bundled", subjects, REAL_COPIES // 2, epochs)


def timing(model: Path, work: Path, repeats: int = 3) -> dict[str, Any]:
    """Median seconds: DICOM study → every output, and the segmenter alone on that study."""
    study = work / "timing" / "nigra-100100"
    if not study.is_dir():
        write_case(generate_case("nigra", 100100), work / "timing", "dicom")
    segmenter = Segmenter.load(model)
    channels = read_study(study, segmenter.recipe).channels
    model_s, end_to_end_s = [], []
    for repeat in range(repeats):
        start = time.perf_counter()
        segmenter.segment(channels)
        model_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        api.run("nigra", study, work / "timing-out" / str(repeat), model=model, dicom_seg=True)
        end_to_end_s.append(time.perf_counter() - start)
    return {"input": "DICOM phantom study: 5 echoes + QSM, 20 x 64 x 64 voxels, 1.5 x 0.75 x 0.75 mm",
            "model_only_s_median": statistics.median(model_s),
            "dicom_to_outputs_s_median": statistics.median(end_to_end_s), "repeats": repeats,
            "note": "end to end includes DICOM reading, resampling, the network, post-processing, measures, "
                    "NIfTI, SEG, overlay and report"}


def markdown(results: dict[str, Any]) -> str:
    lines = ["# nigra benchmark", "", machine_line(results["environment"]), ""]
    phantom = results.get("phantom")
    if phantom:
        lines += [f"## Bundled model on {phantom['cases']} held-out phantoms ({phantom['data_kind']})", "",
                  "| structure | Dice | IoU | min IoU |", "|---|---|---|---|"]
        lines += [f"| {n} | {phantom['dice'][n]:.3f} | {phantom['iou'][n]:.3f} | {phantom['min_iou'][n]:.3f} |"
                  for n in phantom["dice"]]
        lines += ["", "| measure (predicted vs true mask) | n | mean abs. error | mean rel. error % | bias | "
                      "Pearson r | ICC(A,1) |", "|---|---|---|---|---|---|---|"]
        for name, stats in phantom["agreement"].items():
            if stats["n"]:
                lines.append(f"| {name} [{stats['unit']}] | {stats['n']} | {stats['mean_absolute_error']:.4g} | "
                             f"{stats['mean_relative_error_percent']:.1f} | {stats['bland_altman']['bias']:.4g} | "
                             f"{stats['pearson_r']:.3f} | {stats['icc_a1']:.3f} |")
            else:
                lines.append(f"| {name} | 0 ({stats['missing']} missing) | | | | | |")
    for key, title in (("real_nm", "NM-contrast protocol (the bundled nigra-nm model's held-out estimate)"),
                       ("real", "earlier protocol (multi-echo phantoms' first echo)")):
        real = results.get(key)
        if not real or "skipped" in real:
            continue
        lines += ["", f"## Real NM MRI, leave one subject out, {title}; atlas-derived masks", "",
                  "| left out | trained on | SN right Dice | SN left Dice | crus right Dice | crus left Dice | run |",
                  "|---|---|---|---|---|---|---|"]
        for subject, fold in real.items():
            dice = fold["dice"]
            lines.append(f"| {subject} | {fold['trained_on']} | {dice['substantia_nigra_right']:.3f} | "
                         f"{dice['substantia_nigra_left']:.3f} | {dice['crus_cerebri_right']:.3f} | "
                         f"{dice['crus_cerebri_left']:.3f} | {fold.get('source', fold.get('commit', ''))} |")
        lines += ["", "| left out | measure | on predicted mask | on reference mask | difference % |",
                  "|---|---|---|---|---|"]
        for subject, fold in real.items():
            for name, value in fold["measures"].items():
                difference = (f"{100 * (value['predicted'] - value['reference']) / abs(value['reference']):+.1f}"
                              if value["reference"] else "n/a (reference 0)")
                lines.append(f"| {subject} | {name} [{value['unit']}] | {value['predicted']:.4g} | "
                             f"{value['reference']:.4g} | {difference} |")
    vnet = results.get("vnet_vs_dynunet")
    if vnet:
        lines += ["", "## VNet (recipe) vs DynUNet (bundled), same phantoms and epochs", "",
                  "| network | epochs | parameters | weights MB | training CPU s | inference s/case | "
                  "mean Dice SN | mean Dice crus |", "|---|---|---|---|---|---|---|---|"]
        for name, row in vnet.items():
            dice = row["dice"]
            sn = statistics.mean([dice["substantia_nigra_right"], dice["substantia_nigra_left"]])
            crus = statistics.mean([dice["crus_cerebri_right"], dice["crus_cerebri_left"]])
            lines.append(f"| {name} | {row['epochs']} | {row['parameters']:,} | {row['weights_mb']:.1f} | "
                         f"{row['training_cpu_s']:.0f} | {row['inference_s_per_case']:.2f} | {sn:.3f} | {crus:.3f} |")
    timing_row = results.get("timing")
    if timing_row:
        lines += ["", f"CPU time per case ({timing_row['input']}): network {timing_row['model_only_s_median']:.2f} s, "
                      f"DICOM to every output {timing_row['dicom_to_outputs_s_median']:.2f} s "
                      f"(median of {timing_row['repeats']})."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "nigra")
    parser.add_argument("--model", type=Path, default=None, help="run folder (default: the bundled model)")
    parser.add_argument("--train-default-model", action="store_true")
    parser.add_argument("--train-nm-model", action="store_true",
                        help="train the bundled single-contrast model (NM phantoms + both KCL volunteers)")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--real-subjects", default=None,
                        help="only the leave-one-out folds of these left-out subjects (comma-separated, e.g. "
                             "kcl-sub-002); the other folds' results are kept from the previous results file")
    parser.add_argument("--only-real", action="store_true", help="skip the phantom evaluation and the timing "
                                                                  "(kept from the previous results file)")
    parser.add_argument("--compare-vnet", action="store_true")
    parser.add_argument("--epochs", type=int, default=40, help="epochs of the real-data and VNet comparison runs")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.train_default_model:
        print(f"trained {train_default_model(args.work)}")
        return
    if args.train_nm_model:
        print(f"trained {train_nm_model(args.work, args.epochs)}")
        return
    model = args.model or bundled_model_dir("nigra")
    output = ROOT / "benchmarks" / "results" / "nigra.json"
    results: dict[str, Any] = json.loads(output.read_text()) if output.is_file() else {}
    results["environment"] = environment()
    if not args.only_real:
        results["phantom"] = api.evaluate("nigra", phantoms(args.work / "held-out", HELD_OUT_SEEDS),
                                          args.work / "phantom-eval", model=model, data_kind=PHANTOM_KIND)
        results["timing"] = timing(model, args.work)
    if not args.skip_real:
        only = set(args.real_subjects.split(",")) if args.real_subjects else None
        folds = real_leave_one_out(args.work, args.epochs, only)
        results["real_nm"] = {**results.get("real_nm", {}), **folds} if only and "skipped" not in folds else folds
    if args.compare_vnet:
        results["vnet_vs_dynunet"] = compare_vnet(args.work, args.epochs)
    output.write_text(json.dumps(results, indent=2))
    output.with_suffix(".md").write_text(markdown(results))
    print(output.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
