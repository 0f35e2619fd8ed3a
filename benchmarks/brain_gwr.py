"""brain-gwr benchmark: registration error on phantoms, held-out Dice per structure, GWR error
against the true labels, outcome agreement, CPU seconds per volume.

    .venv/bin/python benchmarks/brain_gwr.py [--model RUNDIR] [--work build/brain-gwr]
    .venv/bin/python benchmarks/brain_gwr.py --train-default-model   # what `make default-model-brain-gwr` runs

Data (see :mod:`radiomark.recipes.brain_gwr.dataset`): a semi-synthetic cohort made from the real
CQ500 head CT template (../shared/data/ct-head-template), one case per seed, each its own patient:
seeds 0–47 train the bundled model (its own validation split, 20 % of them, picks the epoch),
seeds 48–59 are held out and never seen. Truth is known by construction (the template's labels
deformed with the image); GWR errors compare the measures on predicted masks with the same
measures on the true masks. Registration: MR-like / CT phantom pairs with known random rigid
motions (:func:`radiomark.recipes.brain_gwr.phantom.mr_ct_pair`), and the real template registration's
own check (AAL caudate / putamen carried onto the CQ500 labels). Results go to
benchmarks/results/brain_gwr.json and .md with machine, versions and git commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment, machine_line  # noqa: E402

from radiomark import api  # noqa: E402
from radiomark.inference.predictor import Segmenter, bundled_model_dir  # noqa: E402

TRAIN_SEEDS = range(0, 48)
TEST_SEEDS = range(48, 60)
KIND = "semi-synthetic head CT (CQ500 template deformed, edema-like HU shifts), patients never trained on"


def cohort(work: Path) -> tuple[Path, Path]:
    """The cohort under ``work/cohort`` and the split as symbolic links under ``work/{train,test}``."""
    from radiomark.recipes.brain_gwr.dataset import write_cohort

    source = DATA / "ct-head-template"
    if not source.is_dir():
        sys.exit(f"{source} not found: the brain-gwr benchmark needs ../shared/data")
    cases = write_cohort(source, work / "cohort", range(TRAIN_SEEDS.start, TEST_SEEDS.stop))
    for name, seeds in (("train", TRAIN_SEEDS), ("test", TEST_SEEDS)):
        (work / name).mkdir(parents=True, exist_ok=True)
        for case in cases:
            if int(case.name.split("-")[1]) in seeds and not (work / name / case.name).exists():
                os.symlink(case.resolve(), work / name / case.name)
    return work / "train", work / "test"


def train_default_model(work: Path, epochs: int | None) -> Path:
    train, _ = cohort(work)
    api.train("brain-gwr", train, work / "run", epochs=epochs)
    return work / "run"


def registration_on_phantoms(seeds: range = range(10)) -> dict[str, Any]:
    """Random rigid motions (rotation U(-6°, 6°) per axis, translation U(-8, 8) mm) recovered."""
    from radiomark.metrics import overlap_scores
    from radiomark.recipes.brain_gwr.phantom import mr_ct_pair
    from radiomark.registration import register, transfer_labels, transform_difference

    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        rotation, translation = rng.uniform(-6, 6, 3), rng.uniform(-8, 8, 3)
        case, mr, mr_labels, expected = mr_ct_pair(seed, tuple(rotation), tuple(translation))
        points = np.array([case.image.index_to_point(i) for i in np.argwhere(np.asarray(case.labels.array) > 0)])
        start = time.perf_counter()
        registration = register(case.image, mr)
        seconds = time.perf_counter() - start
        displacement, angle = transform_difference(registration.transform, expected, points)
        dice = overlap_scores(transfer_labels(mr_labels, case.image, registration), case.labels)
        rows.append({"seed": seed, "rotation_deg": rotation.tolist(), "translation_mm": translation.tolist(),
                     "max_error_mm": displacement, "rotation_error_deg": angle, "seconds": seconds,
                     "transfer_dice": {name: pair["dice"] for name, pair in dice.items()}})
    return {"cases": rows, "max_error_mm": max(r["max_error_mm"] for r in rows),
            "max_rotation_error_deg": max(r["rotation_error_deg"] for r in rows),
            "mean_transfer_dice": float(np.mean([np.mean(list(r["transfer_dice"].values())) for r in rows])),
            "median_seconds": statistics.median(r["seconds"] for r in rows),
            "data": "phantom CT and an MR-like image of it (non-monotone intensity map) moved by a known rigid motion"}


def outcome_agreement(evaluation: Path, table: str, cutoff: float) -> dict[str, Any]:
    """The cut-off's finding on predicted vs true masks, and against the designed outcome."""
    import csv

    rows = list(csv.DictReader(open(evaluation / "per_case.csv", newline="")))
    designed = {r["case"]: json.loads((evaluation.parent / "test" / r["case"] / "truth.json").read_text())
                ["truth"]["outcome"] for r in rows}
    predicted = {r["case"]: float(r["gwr_bg"]) < cutoff for r in rows if r.get("gwr_bg")}
    reference = {r["case"]: float(r["reference_gwr_bg"]) < cutoff for r in rows if r.get("reference_gwr_bg")}
    agree = sum(predicted[c] == reference[c] for c in predicted if c in reference)
    poor = [c for c in designed if designed[c] == "poor"]
    return {"table": table, "cutoff": cutoff, "cases": len(rows),
            "same_finding_as_true_masks": f"{agree}/{len(predicted)}",
            "designed_poor_flagged_on_predicted_masks": f"{sum(predicted.get(c, False) for c in poor)}/{len(poor)}",
            "designed_good_flagged_on_predicted_masks":
                f"{sum(predicted.get(c, False) for c in designed if c not in poor)}/{len(designed) - len(poor)}"}


def timing(model: Path, work: Path, repeats: int = 3) -> dict[str, Any]:
    """Median seconds: DICOM study → every output; the segmenter alone on that study."""
    from radiomark.io.study import read_study
    from radiomark.phantoms import write_case
    from radiomark.recipes.brain_gwr.dataset import build_atlas, cohort_case

    study = work / "timing" / "ctgwr-1000"
    if not study.is_dir():
        write_case(cohort_case(build_atlas(DATA / "ct-head-template", work / "cohort" / "atlas"), 1000),
                   work / "timing", "dicom")
    segmenter = Segmenter.load(model)
    image = read_study(study, segmenter.recipe).image
    model_s, end_to_end_s = [], []
    for repeat in range(repeats):
        start = time.perf_counter()
        segmenter.segment(image)
        model_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        api.run("brain-gwr", study, work / "timing-out" / str(repeat), model=model, dicom_seg=True)
        end_to_end_s.append(time.perf_counter() - start)
    return {"input": f"DICOM CT series {image.shape[0]} slices of {image.shape[1]} x {image.shape[2]}, 2 mm",
            "segmenter_s_median": statistics.median(model_s),
            "dicom_to_outputs_s_median": statistics.median(end_to_end_s), "repeats": repeats}


def markdown(results: dict[str, Any]) -> str:
    lines = ["# brain-gwr benchmark", "", machine_line(results["environment"]), ""]
    registration = results.get("registration")
    if registration:
        lines += ["## Registration (MR-like onto CT phantoms, known random rigid motions)", "",
                  f"{len(registration['cases'])} pairs: largest point error {registration['max_error_mm']:.3f} mm, "
                  f"largest rotation error {registration['max_rotation_error_deg']:.3f}°, mean label-transfer Dice "
                  f"{registration['mean_transfer_dice']:.3f}, median {registration['median_seconds']:.1f} s per pair.",
                  ""]
    atlas = results.get("atlas_check")
    if atlas:
        lines += ["Real templates: the ICBM152 → CQ500 registration (tissue maps, rigid + affine) carried AAL's "
                  "caudate / putamen onto the CQ500 template's own labels with Dice "
                  + ", ".join(f"{k} {v:.3f}" for k, v in atlas.items()) + ".", ""]
    held = results.get("held_out")
    if held:
        lines += [f"## Held-out segmentation ({held['cases']} patients; {held['data_kind']})", "",
                  "| structure | Dice | IoU | min IoU |", "|---|---|---|---|"]
        lines += [f"| {n} | {held['dice'][n]:.3f} | {held['iou'][n]:.3f} | {held['min_iou'][n]:.3f} |"
                  for n in held["dice"]]
        lines += ["", "| measure (predicted vs true masks) | n | mean abs. error | bias | Pearson r | ICC(A,1) |",
                  "|---|---|---|---|---|---|"]
        for name, stats in held["agreement"].items():
            if stats["n"]:
                lines.append(f"| {name} [{stats['unit']}] | {stats['n']} | {stats['mean_absolute_error']:.4f} | "
                             f"{stats['bland_altman']['bias']:+.4f} | {stats['pearson_r']:.3f} | "
                             f"{stats['icc_a1']:.3f} |")
    outcome = results.get("outcome")
    if outcome:
        lines += ["", f"Outcome at {outcome['table']} (GWR_BG < {outcome['cutoff']}): same finding as on the true "
                      f"masks in {outcome['same_finding_as_true_masks']} cases; designed poor-outcome cases flagged "
                      f"{outcome['designed_poor_flagged_on_predicted_masks']}, designed good-outcome cases flagged "
                      f"{outcome['designed_good_flagged_on_predicted_masks']}."]
    training = results.get("training")
    if training:
        lines += ["", f"Training (bundled model): {training['patients']} patients, validation Dice (its own "
                      f"held-out split) " + ", ".join(f"{k} {v:.3f}" for k, v in training["validation_dice"].items())
                  + f"; plan: spacing {training['plan']['target_spacing_mm']} mm, patch "
                    f"{training['plan']['patch_size']}, {training['plan']['levels']} levels."]
    timing_row = results.get("timing")
    if timing_row:
        lines += ["", f"CPU time per volume ({timing_row['input']}): segmenter "
                      f"{timing_row['segmenter_s_median']:.1f} s, DICOM to every output "
                      f"{timing_row['dicom_to_outputs_s_median']:.1f} s (median of {timing_row['repeats']})."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "brain-gwr")
    parser.add_argument("--model", type=Path, default=None, help="run folder (default: the bundled model)")
    parser.add_argument("--train-default-model", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.train_default_model:
        print(f"trained {train_default_model(args.work, args.epochs)}")
        return
    model = args.model or bundled_model_dir("brain-gwr")
    _, test = cohort(args.work)
    results: dict[str, Any] = {"environment": environment()}
    results["registration"] = registration_on_phantoms()
    results["atlas_check"] = json.loads((args.work / "cohort" / "atlas" / "atlas.json").read_text())["check_dice"]
    evaluation = args.work / "evaluation"
    results["held_out"] = api.evaluate("brain-gwr", test, evaluation, model=model, data_kind=KIND)
    recipe = Segmenter.load(model).recipe
    table = recipe.default_cutoff_table or ""
    results["outcome"] = outcome_agreement(evaluation, table, recipe.cutoff_tables[table].rules[0].below)
    metrics = json.loads((model / "metrics.json").read_text())
    results["training"] = {"patients": metrics["patients"], "validation_dice": metrics["mean_validation_dice"],
                           "plan": json.loads((model / "plan.json").read_text())}
    results["timing"] = timing(model, args.work)
    output = ROOT / "benchmarks" / "results" / "brain_gwr.json"
    output.write_text(json.dumps(results, indent=2))
    output.with_suffix(".md").write_text(markdown(results))
    print(output.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
