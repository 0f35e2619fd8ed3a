"""neonatal-rds benchmark: held-out lung Dice with each post-processing step, classifier metrics,
CPU time per image.

    .venv/bin/python benchmarks/neonatal_rds.py [--model RUNDIR] [--work build/neonatal-rds]
    .venv/bin/python benchmarks/neonatal_rds.py --train-default-model   # what `make default-model` runs

Data (all real, all from ../shared/data; no neonatal images exist there):
* cxr-jsrt: 198 adult chest radiographs with expert (SCR) lung masks, one image per patient,
  split 80 / 20 by patient with seed 0; the segmenter never sees the 40 test patients (its own
  validation split, used to pick the best epoch, comes out of the 158 training patients).
  Each post-processing step is switched on in turn, as in the seed study's table.
* the same 40 test images rotated 90° clockwise: the case the study's rotation rule is for (and
  the side-by-side lung check of the quality-control flags);
* the same 40 test images after each real-world film corruption separately (lung opacities, tubes
  and lines, portable geometry, low contrast: radiomark.transforms.radiograph_corruptions, one
  seeded draw per image; the expert masks stay the truth, moved with the film for "portable") —
  semi-synthetic —, for the model and, with ``--compare-model``, an earlier one side by side;
* cxr-pediatric-pneumonia (PneumoniaMNIST, 28×28): the classifier machinery trained on its train
  split (whole image, upsampled to 64×64) and scored on its test split;
* cxr-pediatric-kermany: the bundled classifier (normal vs pneumonia, lung crop 128×128) on the
  official test split, and on the test images whose patient id never occurs in the train split.
* timing: the segmenter alone on a 512 × 512 JSRT image, and DICOM → all outputs on the real chest
  CR `RG1_UNCR.dcm` of the pydicom-data package.
Results go to benchmarks/results/neonatal_rds.json and .md with machine, versions and git commit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment  # noqa: E402

from radiomark import api  # noqa: E402
from radiomark.image import LabelMap  # noqa: E402
from radiomark.inference.predictor import Segmenter, bundled_model_dir  # noqa: E402
from radiomark.io.nifti import read_nifti, write_nifti  # noqa: E402
from radiomark.recipes import load_recipe  # noqa: E402
from radiomark.recipes.neonatal_rds.dataset import import_jsrt  # noqa: E402
from radiomark.training.splits import patient_splits  # noqa: E402

#: The corruption kinds in the order that seeds them.
KINDS_ORDER = ("opacity", "lines", "portable", "low_contrast")
#: Patient ids in Kermany file names: ``person123_bacteria_4.jpeg``, ``IM-0115-0001.jpeg``,
#: ``NORMAL2-IM-1427-0001.jpeg``.
KERMANY_PATIENT = r"^((?:NORMAL2-)?IM-\d+|person\d+)[-_]"
#: Post-processing variants, switched on one after the other (the seed study's table).
VARIANTS = {
    "baseline (none)": {},
    "+ median filter": {"median_filter_radius": 2},
    "+ median + rotation rule": {"median_filter_radius": 2, "rotation_rule": {"area_fraction": 0.3}},
    "+ median + rotation + largest component + hole filling": {
        "median_filter_radius": 2, "rotation_rule": {"area_fraction": 0.3}, "largest_component": True,
        "fill_holes": True},
    "+ test-time zoom 0.92 / 1.08 (recipe default)": {
        "test_time_scales": [0.92, 1.08], "median_filter_radius": 2, "rotation_rule": {"area_fraction": 0.3},
        "largest_component": True, "fill_holes": True},
}
#: The corruption table's second configuration of the model: the recipe default without test-time zoom.
WITHOUT_ZOOM = "this model, no test-time zoom"


def jsrt_split(work: Path) -> tuple[Path, Path]:
    """JSRT as radiomark cases under ``work/jsrt`` and a patient split into ``work/{train,test}``
    (symbolic links; 80 / 20, seed 0)."""
    source = DATA / "cxr-jsrt"
    if not source.is_dir():
        sys.exit(f"{source} not found: the JSRT benchmark needs ../shared/data")
    cases = import_jsrt(source, work / "jsrt")
    train, test = patient_splits([case.name for case in cases], 1, 0.2, seed=0)[0]
    for name, index in (("train", train), ("test", test)):
        (work / name).mkdir(parents=True, exist_ok=True)
        for i in index:
            link = work / name / cases[i].name
            if not link.exists():
                os.symlink(cases[i].resolve(), link)
    return work / "train", work / "test"


def kermany_folders(work: Path) -> tuple[Path, Path]:
    """Kermany train / test as class folders (``normal``, ``pneumonia``) of symbolic links."""
    source = DATA / "cxr-pediatric-kermany"
    if not source.is_dir():
        sys.exit(f"{source} not found: the classifier needs ../shared/data")
    for split in ("train", "test"):
        for original, name in (("NORMAL", "normal"), ("PNEUMONIA", "pneumonia")):
            folder = work / "kermany" / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for path in (source / split / original).iterdir():
                if not (folder / path.name).exists():
                    os.symlink(path, folder / path.name)
    return work / "kermany" / "train", work / "kermany" / "test"


def train_default_model(work: Path, segmenter_only: bool = False) -> Path:
    """Train the bundled neonatal-rds model into ``work/run``: the lung segmenter on the JSRT
    training split, then the normal-vs-pneumonia classifier on Kermany's train split (with
    ``segmenter_only``, the bundled classifier is copied in instead)."""
    import shutil

    train, _ = jsrt_split(work)
    run = work / "run"
    print(api.train("neonatal-rds", train, run)["mean_validation_dice"])
    if segmenter_only:
        shutil.copytree(bundled_model_dir("neonatal-rds") / "classifier", run / "classifier", dirs_exist_ok=True)
        return run
    document = load_recipe("neonatal-rds").model_dump(mode="json")
    document["classifier"].update(classes=["normal", "pneumonia"], spatial_size=[128, 128], epochs=12,
                                  batch_size=32)
    variant = work / "pneumonia-classifier.yaml"
    variant.write_text(yaml.safe_dump(document, sort_keys=False))
    kermany_train, _ = kermany_folders(work)
    print(api.train(str(variant), kermany_train, run, stage="classify", patient_pattern=KERMANY_PATIENT)["validation"])
    return run


def segmentation_variants(model: Path, test: Path, scratch: Path, data_kind: str) -> dict:
    """Held-out Dice / IoU on ``test`` with each post-processing variant."""
    from radiomark.evaluation import evaluate

    recipe = load_recipe(model / "recipe.yaml")
    results = {}
    for name, steps in VARIANTS.items():
        postprocessing = recipe.postprocessing.model_validate(steps)
        segmenter = Segmenter.load(model, recipe.model_copy(update={"postprocessing": postprocessing}))
        summary = evaluate(segmenter, test, scratch / re.sub(r"\W+", "-", name), data_kind)
        summary["mean_dice"] = float(np.mean(list(summary["dice"].values())))
        summary["mean_iou"] = float(np.mean(list(summary["iou"].values())))
        results[name] = summary
        print(f"{data_kind} | {name}: mean Dice {summary['mean_dice']:.4f}, mIoU {summary['mean_iou']:.4f}, "
              f"rotation rule fired {summary['rotation_rule_fired']}")
    return results


def corrupted_cases(test: Path, out: Path, kind: str) -> Path:
    """The test cases after corruption ``kind`` (seeded by case), images on [0, 1] by the recipe's
    percentiles, labels moved with the film where the corruption moves it."""
    from radiomark.transforms.intensity import to_unit_interval
    from radiomark.transforms.radiograph_corruptions import corrupt

    preprocessing = load_recipe("neonatal-rds").preprocessing
    for index, case in enumerate(sorted(test.iterdir())):
        image, labels = read_nifti(case / "image.nii.gz"), read_nifti(case / "labels.nii.gz", labels={1: "r", 2: "l"})
        values = to_unit_interval(image.array, preprocessing)
        rng = np.random.default_rng(10_000 * KINDS_ORDER.index(kind) + index)
        film, label_array = corrupt(values, np.asarray(labels.array, dtype=np.uint8), kind, rng)  # moved with the film
        folder = out / case.name
        folder.mkdir(parents=True)
        corrupted = type(image)(film.astype(np.float32), image.spacing_mm, metadata=image.metadata)
        write_nifti(corrupted, folder / "image.nii.gz")
        write_nifti(LabelMap.like(corrupted, label_array, dict(labels.labels)), folder / "labels.nii.gz")
        (folder / "case.json").write_text((case / "case.json").read_text())
    return out


def corruption_table(models: dict[str, Path], test: Path, scratch: Path) -> dict:
    """Per corruption kind (and clean), per model: mean / left-lung Dice and the share of lungs
    below Dice 0.80 on the corrupted test films. A model named :data:`WITHOUT_ZOOM` runs the
    recipe without its test-time zoom."""
    import csv

    from radiomark.evaluation import evaluate
    from radiomark.transforms.radiograph_corruptions import KINDS

    table: dict[str, dict] = {}
    for kind in ("clean", *KINDS):
        cases = test if kind == "clean" else corrupted_cases(test, scratch / f"corrupt-{kind}", kind)
        table[kind] = {}
        for name, model in models.items():
            out = scratch / f"eval-{kind}-{name}"
            recipe = load_recipe("neonatal-rds")
            if name == WITHOUT_ZOOM:
                recipe = recipe.model_copy(update={"postprocessing": recipe.postprocessing.model_copy(
                    update={"test_time_scales": ()})})
            summary = evaluate(Segmenter.load(model, recipe), cases, out, f"JSRT test split, {kind} (semi-synthetic)")
            with (out / "per_case.csv").open(newline="") as stream:
                rows = list(csv.DictReader(stream))
            dice = [float(row[f"{side}_dice"]) for row in rows for side in ("right_lung", "left_lung")]
            table[kind][name] = {"case_dice": [(float(row["right_lung_dice"]) + float(row["left_lung_dice"])) / 2
                                               for row in rows],
                                 "confidence": [float(row["confidence"]) for row in rows],
                                 "mean_dice": float(np.mean(list(summary["dice"].values()))),
                                 "left_dice": summary["dice"]["left_lung"],
                                 "lungs_below_0_80": float(np.mean(np.array(dice) < 0.8)),
                                 "withheld": summary["cases_with_decisions_withheld"],
                                 "flagged": summary["cases_with_qc_flags"]}
            print(f"{kind} | {name}: mean Dice {table[kind][name]['mean_dice']:.4f}")
    return table


def rotated_cases(test: Path, out: Path) -> Path:
    """The test cases rotated 90° clockwise (image and labels; square pixels keep their size)."""
    for case in sorted(test.iterdir()):
        image, labels = read_nifti(case / "image.nii.gz"), read_nifti(case / "labels.nii.gz", labels={1: "r", 2: "l"})
        folder = out / case.name
        folder.mkdir(parents=True)
        rotated = type(image)(np.rot90(image.array, -1).copy(), image.spacing_mm, metadata=image.metadata)
        write_nifti(rotated, folder / "image.nii.gz")
        write_nifti(LabelMap.like(rotated, np.rot90(labels.array, -1).copy(), dict(labels.labels)),
                    folder / "labels.nii.gz")
        (folder / "case.json").write_text((case / "case.json").read_text())
    return out


def pneumoniamnist(scratch: Path, epochs: int) -> dict:
    """Classifier machinery on PneumoniaMNIST: train split → train, test split → scores."""
    from PIL import Image as PILImage

    source = DATA / "cxr-pediatric-pneumonia" / "pneumoniamnist.npz"
    arrays = np.load(source)
    document = load_recipe("neonatal-rds").model_dump(mode="json")
    document["classifier"].update(classes=["normal", "pneumonia"], input="whole", spatial_size=[64, 64],
                                  epochs=epochs, batch_size=32)
    recipe = scratch / "pneumoniamnist.yaml"
    recipe.write_text(yaml.safe_dump(document, sort_keys=False))
    for split in ("train", "test"):
        for index, (image, label) in enumerate(zip(arrays[f"{split}_images"], arrays[f"{split}_labels"][:, 0],
                                                   strict=True)):
            folder = scratch / "pneumoniamnist" / split / ("normal", "pneumonia")[label]
            folder.mkdir(parents=True, exist_ok=True)
            PILImage.fromarray(image).save(folder / f"{split}{index:05d}.png")
    start = time.process_time()
    trained = api.train(str(recipe), scratch / "pneumoniamnist" / "train", scratch / "pneumoniamnist-run",
                        stage="classify")
    cpu_seconds = time.process_time() - start
    result = api.evaluate("neonatal-rds", scratch / "pneumoniamnist" / "test", scratch / "pneumoniamnist-eval",
                          model=scratch / "pneumoniamnist-run", stage="classify",
                          data_kind="PneumoniaMNIST test split (real, 28x28)")
    return {"test": result, "validation": trained["validation"], "best_epoch": trained["best_epoch"],
            "epochs": epochs, "training_cpu_seconds": cpu_seconds,
            "note": "no patient ids in PneumoniaMNIST: its own train/test split is used as given"}


def kermany(model: Path, scratch: Path, work: Path) -> dict:
    """The model's classifier on Kermany's test split, all of it and the part whose patient ids
    never occur in the train split."""
    train, test = kermany_folders(work)
    pattern = re.compile(KERMANY_PATIENT)
    seen = {pattern.match(p.name).group(1) for p in train.rglob("*.jpeg")}
    disjoint = scratch / "kermany-disjoint"
    for path in test.rglob("*.jpeg"):
        if pattern.match(path.name).group(1) not in seen:
            (disjoint / path.parent.name).mkdir(parents=True, exist_ok=True)
            os.symlink(path.resolve(), disjoint / path.parent.name / path.name)
    results = {}
    for key, folder, kind in (("official_test", test, "Kermany official test split (real)"),
                              ("unseen_ids", disjoint, "Kermany test images whose patient id is not in train")):
        results[key] = api.evaluate("neonatal-rds", folder, scratch / f"kermany-{key}", model=model, stage="classify",
                                    patient_pattern=KERMANY_PATIENT, data_kind=kind)
    return results


def timing(model: Path, test: Path, repeats: int) -> dict:
    from pydicom.data import get_testdata_file

    from radiomark.io import read_image

    segmenter = Segmenter.load(model, load_recipe("neonatal-rds"))  # the recipe's post-processing, as run uses
    image = read_nifti(sorted(test.iterdir())[0] / "image.nii.gz")
    segmenter.segment(image)  # warm-up
    model_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        segmenter.segment(image)
        model_ms.append(1000 * (time.perf_counter() - start))
    result = {"segmenter_ms_median": statistics.median(model_ms), "segmenter_input": f"JSRT {image.shape} image",
              "repeats": repeats}
    path = get_testdata_file("RG1_UNCR.dcm", download=False)
    if path is not None:
        cr = read_image(path)
        end_to_end = []
        with tempfile.TemporaryDirectory() as out:
            for _ in range(repeats):
                start = time.perf_counter()
                api.run("neonatal-rds", path, out, model=model)
                end_to_end.append(1000 * (time.perf_counter() - start))
        result |= {"dicom_to_outputs_ms_median": statistics.median(end_to_end),
                   "dicom_input": f"pydicom-data RG1_UNCR.dcm ({cr.shape[0]}x{cr.shape[1]} CR, MONOCHROME1)",
                   "note": "end to end includes loading both models, DICOM decoding, segmentation, "
                           "post-processing, classification and writing every output"}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="run folder (default: the bundled model)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "neonatal-rds", help="data / run folder")
    parser.add_argument("--train-default-model", action="store_true", help="train the bundled model into WORK/run")
    parser.add_argument("--classifier-epochs", type=int, default=15, help="PneumoniaMNIST classifier epochs")
    parser.add_argument("--segmenter-only", action="store_true",
                        help="with --train-default-model: train the lung segmenter, keep the bundled classifier")
    parser.add_argument("--compare-model", type=Path, default=None,
                        help="an earlier run folder scored beside the model on the corrupted films")
    parser.add_argument("--reuse-pneumoniamnist", action="store_true",
                        help="take the PneumoniaMNIST section (it trains its own classifier, independent of the "
                             "bundled model) from the previous results file instead of retraining it")
    parser.add_argument("--reuse-earlier", action="store_true",
                        help="without --compare-model: carry the earlier model's corruption figures over from the "
                             "previous results file (that model is not kept in the repository)")
    parser.add_argument("--repeats", type=int, default=10, help="timing repeats")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if args.train_default_model:
        print(f"trained into {train_default_model(args.work, args.segmenter_only)}")
        return
    model = args.model or bundled_model_dir("neonatal-rds")
    _, test = jsrt_split(args.work)
    results = {"benchmark": "neonatal-rds", "model": str(model), "environment": environment()}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        results["jsrt"] = segmentation_variants(model, test, scratch / "jsrt", "JSRT test split (real, expert masks)")
        rotated = rotated_cases(test, scratch / "rotated")
        results["jsrt_rotated"] = segmentation_variants(model, rotated, scratch / "jsrt-rotated",
                                                        "JSRT test split rotated 90° clockwise")
        models = {"this model": model, WITHOUT_ZOOM: model,
                  **({"earlier model": args.compare_model} if args.compare_model else {})}
        results["corruptions"] = corruption_table(models, test, scratch)
        previous = args.out / "neonatal_rds.json"
        if args.reuse_earlier and not args.compare_model and previous.is_file():
            earlier = json.loads(previous.read_text())
            for kind, row in earlier["corruptions"].items():
                if "earlier model" in row:
                    results["corruptions"][kind]["earlier model"] = row["earlier model"]
            results["earlier_model_note"] = ("earlier model: the segmenter bundled before issue 18, scored at commit "
                                             f"{earlier['environment']['git_commit'][:10]} (figures carried over)")
        if args.reuse_pneumoniamnist and previous.is_file():
            earlier = json.loads(previous.read_text())
            commit = earlier["environment"]["git_commit"][:10]
            results["pneumoniamnist"] = {**earlier["pneumoniamnist"], "note": earlier["pneumoniamnist"]["note"]
                                         + f"; figures from the run at commit {commit}"}
        else:
            results["pneumoniamnist"] = pneumoniamnist(scratch, args.classifier_epochs)
        results["kermany"] = kermany(model, scratch, args.work)
    results["timing"] = timing(model, test, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "neonatal_rds.json").write_text(json.dumps(results, indent=2))
    (args.out / "neonatal_rds.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict) -> str:
    environment_ = results["environment"]
    lines = ["# neonatal-rds benchmark", "", f"Model: `{results['model']}`  ",
             f"Machine: {environment_['cpu_model']}, {environment_['cpu_cores']} cores; "
             f"commit {environment_['git_commit'][:10]}", "",
             "## Lung segmentation, held-out patients (the seed study's table)", "",
             "| data | post-processing | right lung Dice | left lung Dice | mean Dice | mIoU | min IoU | rotation "
             "rule fired | cases with QC flags | lung area mean rel. error (%) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key in ("jsrt", "jsrt_rotated"):
        for name, summary in results[key].items():
            lines.append(f"| {summary['data_kind']} ({summary['cases']}) | {name} | "
                         f"{summary['dice']['right_lung']:.4f} | {summary['dice']['left_lung']:.4f} | "
                         f"{summary['mean_dice']:.4f} | "
                         f"{summary['mean_iou']:.4f} | {min(summary['min_iou'].values()):.3f} | "
                         f"{summary['rotation_rule_fired']} | {summary['cases_with_qc_flags']} | "
                         f"{summary['agreement']['lung_area']['mean_relative_error_percent']:.2f} |")
    if "corruptions" in results:
        names = list(next(iter(results["corruptions"].values())))
        lines += ["", "## Real-world film corruptions on the JSRT test films (semi-synthetic; masks stay the truth)",
                  "", "| corruption | " + " | ".join(f"{n}: mean Dice | {n}: left Dice | {n}: lungs < 0.80"
                                                        for n in names) + " |",
                  "|---|" + "---|---|---|" * len(names)]
        for kind, row in results["corruptions"].items():
            cells = [f"{row[n]['mean_dice']:.4f} | {row[n]['left_dice']:.4f} | {100 * row[n]['lungs_below_0_80']:.1f} %"
                     for n in names]
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
        if "earlier_model_note" in results:
            lines += ["", results["earlier_model_note"] + "."]
        first = names[0]
        clean = results["corruptions"]["clean"][first]["confidence"]
        threshold = float(np.percentile(clean, 1))
        lines += ["", f"Segmentation confidence of {first} (1 - mean binary entropy inside the lungs): a threshold at "
                      f"the 1st percentile of the clean test films ({threshold:.3f}) would withhold:"]
        for kind, row in results["corruptions"].items():
            pairs = list(zip(row[first]["confidence"], row[first]["case_dice"], strict=True))
            low = [dice for confidence, dice in pairs if confidence < threshold]
            bad = [confidence < threshold for confidence, dice in pairs if dice < 0.9]
            lines.append(f"- {kind}: {len(low)} of {len(pairs)} films (their mean Dice "
                         f"{np.mean(low) if low else float('nan'):.3f}); {sum(bad)} of the {len(bad)} films with mean "
                         "Dice < 0.90")
    lines += ["", "## Classifier (normal vs pneumonia: no RDS data exists here)", "",
              "| data | images | patients | accuracy | F1 | sensitivity | specificity | ROC-AUC |",
              "|---|---|---|---|---|---|---|---|"]
    summaries = [results["pneumoniamnist"]["test"], *results["kermany"].values()]
    for summary in summaries:
        lines.append(f"| {summary['data_kind']} | {summary['images']} | {summary['patients']} | "
                     f"{summary['accuracy']:.3f} | {summary['f1']:.3f} | {summary['sensitivity']:.3f} | "
                     f"{summary['specificity']:.3f} | {summary['roc_auc']:.3f} |")
    pneumonia = results["pneumoniamnist"]
    lines += ["", f"PneumoniaMNIST classifier: {pneumonia['epochs']} epochs, best epoch {pneumonia['best_epoch']} "
                  f"(held-out validation patients), {pneumonia['training_cpu_seconds'] / 60:.1f} CPU minutes. "
                  f"{pneumonia['note']}."]
    timing = results["timing"]
    lines += ["", f"CPU time: segmenter {timing['segmenter_ms_median']:.0f} ms per {timing['segmenter_input']} "
                  f"(median of {timing['repeats']})"]
    if "dicom_to_outputs_ms_median" in timing:
        lines[-1] += (f"; DICOM to every output {timing['dicom_to_outputs_ms_median']:.0f} ms for "
                      f"{timing['dicom_input']}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
