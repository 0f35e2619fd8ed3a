"""Sarcopenia benchmark: held-out IoU / Dice per tissue, SMA error, the L3 finder on a real
volume, overlays of every real slice, CPU time per slice.

    .venv/bin/python benchmarks/sarcopenia.py [--model RUNDIR] [--phantoms 50] [--synthetic 100]

Data sets, reported separately:
* procedural anatomy: slices of radiomark.recipes.sarcopenia.anatomy with exact masks, seeds
  never used for training (1000000+) - synthetic;
* phantom: the simple analytic L3 phantoms (seeds 100000+) - synthetic;
* real CT with model-made masks: the TotalSegmentator example (../shared/data/ct-abdomen-totalseg,
  T11-L2, 3 mm), all 30 slices and, separately, the slices through vertebra L2 (closest to L3);
  masks from TotalSegmentator's tissue model (torso fat taken as visceral fat) - not expert; this
  patient is a test set only (never trained on, never used to choose an epoch);
* the L3 finder on the real volume (example_ct.nii.gz): the slice chosen, the vertebrae found, and
  the level picture (benchmarks/results/sarcopenia-level.png);
* overlays of every real slice (benchmarks/results/sarcopenia-real-overlays.png: model beside the
  reference on the 30 T11-L2 slices; sarcopenia-real-l3-overlays.png: the volume's L3 slice and the
  pydicom-data slice, which have no reference);
* timing: the model alone on a 512 x 512 slice, and DICOM -> measurements end to end on the real
  abdominal CT slice of the pydicom-data package.
Results go to benchmarks/results/sarcopenia.json and .md with machine, versions and git commit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "ct-abdomen-totalseg"
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment  # noqa: E402

from radiomark import api  # noqa: E402
from radiomark.image import LabelMap  # noqa: E402
from radiomark.inference.predictor import Segmenter, bundled_model_dir  # noqa: E402
from radiomark.io.nifti import read_nifti, write_nifti  # noqa: E402

#: TotalSegmentator "total" class of vertebra L2 (map_to_binary.py.txt in the data folder).
TOTALSEG_L2 = 30


def real_cases(folder: Path) -> tuple[Path, Path] | None:
    """Case folders built from the TotalSegmentator example: all T11-L2 slices, and only the slices
    through vertebra L2 (the closest to L3 that has tissue masks). None when the data is absent."""
    if not SHARED.is_dir():
        print(f"skipping real data: {SHARED} not found")
        return None
    image = read_nifti(SHARED / "example_ct_sm.nii.gz")
    masks = {1: "skeletal_muscle", 2: "subcutaneous_fat", 3: "torso_fat"}
    labels = np.zeros(image.shape, dtype=np.uint8)
    for value, name in masks.items():
        labels[np.asarray(read_nifti(SHARED / f"example_seg_tissue_types_{name}.nii.gz").array) > 0] = value
    vertebrae = np.asarray(read_nifti(SHARED / "example_seg.nii.gz").array)
    at_l2 = (vertebrae == TOTALSEG_L2).any(axis=(1, 2))
    names = {1: "skeletal_muscle", 2: "subcutaneous_fat", 3: "visceral_fat"}
    roots = []
    for subset, keep in (("all", np.ones_like(at_l2)), ("l2", at_l2)):
        case = folder / subset / "totalseg-example"
        case.mkdir(parents=True)
        write_nifti(image, case / "image.nii.gz")
        write_nifti(LabelMap.like(image, labels * keep[:, None, None], names), case / "labels.nii.gz")
        (case / "case.json").write_text(json.dumps({"patient_id": "totalseg-example"}))
        roots.append(folder / subset)
    return roots[0], roots[1]


def procedural_cases(folder: Path, count: int) -> Path:
    """Case folders of held-out procedural L3 slices (seeds from HELD_OUT_SEED, never trained on)."""
    from radiomark.recipes.sarcopenia.anatomy import synthetic_slice
    from radiomark.recipes.sarcopenia.dataset import HELD_OUT_SEED

    for seed in range(HELD_OUT_SEED, HELD_OUT_SEED + count):
        image, labels, info = synthetic_slice(seed)
        case = folder / f"anatomy-{seed}"
        case.mkdir(parents=True)
        write_nifti(image, case / "image.nii.gz")
        write_nifti(labels, case / "labels.nii.gz")
        (case / "case.json").write_text(json.dumps({"patient_id": f"anatomy-{seed}"}))
    return folder


def level_on_real_volume(out: Path) -> dict | None:
    """The L3 finder on the real volume, with its picture written beside the results."""
    from radiomark.io import read_image
    from radiomark.outputs.level_figure import write_level_figure
    from radiomark.transforms.vertebral_levels import find_level

    path = SHARED / "example_ct.nii.gz"
    if not path.is_file():
        return None
    volume = read_image(path)
    result = find_level(volume)
    write_level_figure(volume, result, out / "sarcopenia-level.png")
    return {"input": "example_ct.nii.gz (real, 112 slices of 3 mm)", **result.record(),
            "reference": "L3 body between the disc dips at slices 67 and 80 (read on the sagittal picture; "
                         "TotalSegmentator's vertebra labels on slices 82-111 put L2 at 82-91 and T12 at 97-111)"}


def overlay_sheets(model_dir: Path, out: Path) -> list[str]:
    """Contact sheets of the model's labels (after post-processing) on every real slice, beside the
    reference where there is one. Returns the files written."""
    from pydicom.data import get_testdata_file

    from radiomark.io import read_image
    from radiomark.outputs.figures import pyplot, save_png
    from radiomark.pipeline.steps import postprocess
    from radiomark.transforms.spatial import canonical_flips, flip
    from radiomark.transforms.vertebral_levels import find_level

    segmenter = Segmenter.load(model_dir)
    colours = np.array([[0, 0, 0, 0], [0.9, 0.1, 0.2, 0.5], [1.0, 0.85, 0.0, 0.45], [0.1, 0.8, 0.9, 0.45]])

    def show(axis, image, labels, title):  # anterior up, the patient's right on the left
        flips = canonical_flips(image)
        axis.imshow(flip(np.clip(np.asarray(image.array, dtype=float), -160, 240), flips), cmap="gray")
        if labels is not None:
            axis.imshow(colours[flip(np.asarray(labels, dtype=int), flips)])
        axis.set_title(title, fontsize=7)
        axis.axis("off")

    def predicted(image):
        return postprocess(segmenter.recipe, image, segmenter.segment(image).labels).array

    written = []
    if (SHARED / "example_ct_sm.nii.gz").is_file():
        volume = read_image(SHARED / "example_ct_sm.nii.gz")
        reference = np.zeros(volume.shape, dtype=np.uint8)
        for value, name in {1: "skeletal_muscle", 2: "subcutaneous_fat", 3: "torso_fat"}.items():
            mask = read_image(SHARED / f"example_seg_tissue_types_{name}.nii.gz").array
            reference[np.asarray(mask) > 0] = value
        figure, axes = pyplot().subplots(10, 6, figsize=(12, 22))
        for k in range(volume.shape[0]):
            image = volume.take_slice(k)
            show(axes.flat[2 * k], image, predicted(image), f"slice {k}: model")
            show(axes.flat[2 * k + 1], image, reference[k], f"slice {k}: TotalSegmentator")
        figure.suptitle("Real CT T11-L2 (TotalSegmentator example): radiomark (left) and model-made reference "
                        "(right); red muscle, yellow SAT, cyan VAT", fontsize=9)
        written.append(str(save_png(figure, out / "sarcopenia-real-overlays.png", dpi=70)))
    figure, axes = pyplot().subplots(2, 2, figsize=(10, 10))
    slices = []
    if (SHARED / "example_ct.nii.gz").is_file():
        volume = read_image(SHARED / "example_ct.nii.gz")
        level = find_level(volume)
        if level.slice_index is not None:
            slices.append((volume.take_slice(level.slice_index),
                           f"example_ct.nii.gz slice {level.slice_index} (L3 found)"))
    slice_path = get_testdata_file("explicit_VR-UN.dcm", download=False)
    if slice_path is not None:
        slices.append((read_image(slice_path), "pydicom-data explicit_VR-UN.dcm"))
    for row, (image, title) in enumerate(slices):
        show(axes[row, 0], image, None, f"{title}: image")
        show(axes[row, 1], image, predicted(image), f"{title}: radiomark")
    figure.suptitle("Real CT slices without reference masks", fontsize=9)
    written.append(str(save_png(figure, out / "sarcopenia-real-l3-overlays.png", dpi=80)))
    return written


def per_case(eval_dir: Path) -> list[dict]:
    """Case, segmentation confidence, muscle Dice and withheld decisions from an evaluation's per_case.csv."""
    import csv

    with (eval_dir / "per_case.csv").open(newline="") as stream:
        return [{"case": row["case"], "confidence": float(row["confidence"]) if row["confidence"] else None,
                 "muscle_dice": float(row["skeletal_muscle_dice"]), "withheld": row["decision_withheld"]}
                for row in csv.DictReader(stream)]


def calibration(results: dict) -> dict:
    """The confidence threshold a recipe could use: the 1st percentile of the confidence on held-out
    procedural slices (about 1 % of good synthetic cases withheld), and what it would withhold on
    the real slices, with their muscle Dice."""
    synthetic = [c["confidence"] for c in results["procedural_anatomy"]["per_case"] if c["confidence"] is not None]
    threshold = float(np.percentile(synthetic, 1))
    report = {"threshold_1st_percentile_procedural": threshold, "procedural_confidence_quantiles": {
        q: float(np.percentile(synthetic, q)) for q in (1, 5, 50)}}
    for key in ("real_model_made_masks", "phantom"):
        if key in results:
            cases = results[key]["per_case"]
            below = [c for c in cases if c["confidence"] is not None and c["confidence"] < threshold]
            report[key] = {"cases": len(cases), "below_threshold": len(below),
                           "muscle_dice_below": [round(c["muscle_dice"], 3) for c in below],
                           "muscle_dice_above": [round(c["muscle_dice"], 3) for c in cases if c not in below],
                           "confidence_vs_muscle_dice_pearson": float(np.corrcoef(
                               [c["confidence"] for c in cases], [c["muscle_dice"] for c in cases])[0, 1])
                           if len(cases) > 2 else None}
    return report


def timing(model_dir: Path, repeats: int) -> dict:
    from pydicom.data import get_testdata_file

    from radiomark.io import read_image

    segmenter = Segmenter.load(model_dir)
    slice_path = get_testdata_file("explicit_VR-UN.dcm", download=False)
    image = read_image(slice_path)
    segmenter.probabilities(image)  # warm-up
    model_ms = []
    for _ in range(repeats):
        start = time.perf_counter()
        segmenter.probabilities(image)
        model_ms.append(1000 * (time.perf_counter() - start))
    end_to_end_ms = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats):
            start = time.perf_counter()
            api.run("sarcopenia", slice_path, out, sex="M", height_m=1.75, weight_kg=75.0, model=model_dir)
            end_to_end_ms.append(1000 * (time.perf_counter() - start))
    return {"input": f"pydicom-data explicit_VR-UN.dcm ({image.shape[0]}x{image.shape[1]} CT slice)",
            "model_only_ms_median": statistics.median(model_ms),
            "dicom_to_measurements_ms_median": statistics.median(end_to_end_ms), "repeats": repeats,
            "note": "end to end includes model loading, DICOM decoding, post-processing, measurements and "
                    "writing NIfTI/JSON/CSV/PNG outputs"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="run folder (default: the bundled model)")
    parser.add_argument("--phantoms", type=int, default=50, help="number of held-out phantom slices")
    parser.add_argument("--synthetic", type=int, default=100, help="number of held-out procedural-anatomy slices")
    parser.add_argument("--repeats", type=int, default=10, help="timing repeats")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    model_dir = args.model or bundled_model_dir("sarcopenia")
    results = {"benchmark": "sarcopenia", "model": str(model_dir), "environment": environment()}
    with tempfile.TemporaryDirectory() as scratch:
        phantoms = Path(scratch) / "phantoms"
        api.make_phantoms("sarcopenia", phantoms, cases=args.phantoms, fmt="nifti", first_seed=100_000)
        work = Path(scratch)
        results["phantom"] = api.evaluate("sarcopenia", phantoms, work / "eval-phantom", model=model_dir,
                                          data_kind="phantom (seeds 100000+, never trained on)")
        results["phantom"]["per_case"] = per_case(work / "eval-phantom")
        results["procedural_anatomy"] = api.evaluate(
            "sarcopenia", procedural_cases(work / "anatomy", args.synthetic), work / "eval-anatomy",
            model=model_dir, data_kind="procedural anatomy (seeds 1000000+, never trained on)")
        results["procedural_anatomy"]["per_case"] = per_case(work / "eval-anatomy")
        real = real_cases(work / "real")
        if real is not None:
            results["real_model_made_masks"] = api.evaluate(
                "sarcopenia", real[0], work / "eval-real", model=model_dir,
                data_kind="real CT T11-L2 (TotalSegmentator example), model-made masks")
            results["real_model_made_masks"]["per_case"] = per_case(work / "eval-real")
            results["real_model_made_masks_l2"] = api.evaluate(
                "sarcopenia", real[1], work / "eval-real-l2", model=model_dir,
                data_kind="real CT, slices through L2 only, model-made masks")
    results["confidence"] = calibration(results)
    args.out.mkdir(parents=True, exist_ok=True)
    results["level"] = level_on_real_volume(args.out)
    results["overlays"] = overlay_sheets(model_dir, args.out)
    results["timing"] = timing(model_dir, args.repeats)
    (args.out / "sarcopenia.json").write_text(json.dumps(results, indent=2))
    (args.out / "sarcopenia.md").write_text(markdown(results))
    print(markdown(results))


DATA_KEYS = ("procedural_anatomy", "phantom", "real_model_made_masks", "real_model_made_masks_l2")


def markdown(results: dict) -> str:
    lines = ["# Sarcopenia benchmark", "", f"Model: `{results['model']}`  ",
             f"Machine: {results['environment']['cpu_model']}, {results['environment']['cpu_cores']} cores; "
             f"commit {results['environment']['git_commit'][:10]}", "",
             "| data | slices | tissue | Dice | IoU | min IoU |", "|---|---|---|---|---|---|"]
    for key in DATA_KEYS:
        if key not in results:
            continue
        summary = results[key]
        for name in summary["dice"]:
            lines.append(f"| {summary['data_kind']} | {summary['cases']} | {name} | {summary['dice'][name]:.3f} | "
                         f"{summary['iou'][name]:.3f} | {summary['min_iou'][name]:.3f} |")
    lines += ["", "| data | SMA mean abs. error (cm²) | SMA mean rel. error (%) | Bland–Altman bias (cm²) |",
              "|---|---|---|---|"]
    for key in DATA_KEYS:
        if key in results:
            summary = results[key]
            agreement = summary["agreement"]["skeletal_muscle_area"]
            lines.append(f"| {summary['data_kind']} | {agreement['mean_absolute_error']:.2f} | "
                         f"{agreement['mean_relative_error_percent']:.2f} | "
                         f"{agreement['bland_altman']['bias']:.2f} |")
    lines += ["", "| data | cases with QC flags | cases with decisions withheld |", "|---|---|---|"]
    lines += [f"| {results[key]['data_kind']} | {results[key]['cases_with_qc_flags']} | "
              f"{results[key]['cases_with_decisions_withheld']} |" for key in DATA_KEYS if key in results]
    calibrated = results.get("confidence")
    if calibrated:
        lines += ["", "Segmentation confidence (1 - mean binary entropy inside the predicted structures): 1st / 5th / "
                      "50th percentile on the held-out procedural slices "
                      + " / ".join(f"{v:.3f}" for v in calibrated["procedural_confidence_quantiles"].values())
                      + f"; a threshold at the 1st percentile ({calibrated['threshold_1st_percentile_procedural']:.3f})"
                      " would withhold, on the real slices: "
                      + (f"{calibrated['real_model_made_masks']['below_threshold']} of "
                         f"{calibrated['real_model_made_masks']['cases']} (muscle Dice of those "
                         f"{calibrated['real_model_made_masks']['muscle_dice_below']}; confidence vs muscle Dice "
                         f"r = {calibrated['real_model_made_masks']['confidence_vs_muscle_dice_pearson']:.2f})"
                         if "real_model_made_masks" in calibrated else "no real data") + "."]
    level = results.get("level")
    if level:
        found = ", ".join(f"{v['name']} {v['centre_slice']}" for v in level["vertebrae"])
        lines += ["", f"L3 finder on the real volume ({level['input']}): slice {level['slice_index']}, counted from "
                      f"the {level['anchor']}, confidence {level['confidence']}; vertebra centres {found}. "
                      f"Reference: {level['reference']}. Warnings: {'; '.join(level['warnings']) or 'none'}. "
                      "Picture: sarcopenia-level.png."]
    timing = results["timing"]
    lines += ["", f"CPU time per slice ({timing['input']}): model only {timing['model_only_ms_median']:.0f} ms, "
                  f"DICOM to measurements end to end {timing['dicom_to_measurements_ms_median']:.0f} ms "
                  f"(median of {timing['repeats']})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
