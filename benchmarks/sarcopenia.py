"""Sarcopenia benchmark: held-out IoU / Dice per tissue, SMA error, CPU time per slice.

    .venv/bin/python benchmarks/sarcopenia.py [--model RUNDIR] [--phantoms 50]

Three data sets, reported separately:
* phantom: synthetic L3 slices with exact masks, seeds never used for training (100000+);
* real CT with model-made masks: the TotalSegmentator example (../shared/data/ct-abdomen-totalseg,
  T11-L2, 3 mm), all 30 slices and, separately, the slices through vertebra L2 (closest to L3);
  masks from TotalSegmentator's tissue model (torso fat taken as visceral fat) - not expert;
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
    parser.add_argument("--repeats", type=int, default=10, help="timing repeats")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    model_dir = args.model or bundled_model_dir("sarcopenia")
    results = {"benchmark": "sarcopenia", "model": str(model_dir), "environment": environment()}
    with tempfile.TemporaryDirectory() as scratch:
        phantoms = Path(scratch) / "phantoms"
        api.make_phantoms("sarcopenia", phantoms, cases=args.phantoms, fmt="nifti", first_seed=100_000)
        results["phantom"] = api.evaluate("sarcopenia", phantoms, Path(scratch) / "eval-phantom", model=model_dir,
                                          data_kind="phantom (seeds 100000+, never trained on)")
        real = real_cases(Path(scratch) / "real")
        if real is not None:
            results["real_model_made_masks"] = api.evaluate(
                "sarcopenia", real[0], Path(scratch) / "eval-real", model=model_dir,
                data_kind="real CT T11-L2 (TotalSegmentator example), model-made masks")
            results["real_model_made_masks_l2"] = api.evaluate(
                "sarcopenia", real[1], Path(scratch) / "eval-real-l2", model=model_dir,
                data_kind="real CT, slices through L2 only, model-made masks")
    results["timing"] = timing(model_dir, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sarcopenia.json").write_text(json.dumps(results, indent=2))
    (args.out / "sarcopenia.md").write_text(markdown(results))
    print(markdown(results))


DATA_KEYS = ("phantom", "real_model_made_masks", "real_model_made_masks_l2")


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
    timing = results["timing"]
    lines += ["", f"CPU time per slice ({timing['input']}): model only {timing['model_only_ms_median']:.0f} ms, "
                  f"DICOM to measurements end to end {timing['dicom_to_measurements_ms_median']:.0f} ms "
                  f"(median of {timing['repeats']})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
