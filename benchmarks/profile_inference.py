"""Where inference time goes: each stage of `radiomark run` timed separately, per recipe.

    .venv/bin/python benchmarks/profile_inference.py [--repeats 10]

Stages: read (DICOM decode), preprocess (intensity mapping + placement on the network grid),
network (all folds), back to the image grid (resize + argmax), post-processing, biomarkers,
classifier (where the recipe has one) and writing every output. Inputs: the real CT slice
`explicit_VR-UN.dcm` (sarcopenia) and the real chest CR `RG1_UNCR.dcm` (neonatal-rds) from the
pydicom-data package, with the bundled models, PyTorch and, when exported, ONNX Runtime.
Results go to benchmarks/results/profile_inference.json and .md with machine, versions and commit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment  # noqa: E402

from radiomark.inference.classifier import ImageClassifier  # noqa: E402
from radiomark.inference.predictor import Segmenter, bundled_model_dir  # noqa: E402
from radiomark.io import read_image  # noqa: E402
from radiomark.pipeline import BIOMARKERS, CaseResult, Clinical, OutputOptions, postprocess  # noqa: E402
from radiomark.pipeline import write_case_outputs  # noqa: E402
from radiomark.transforms.intensity import to_unit_interval  # noqa: E402
from radiomark.transforms.spatial import canonical_flips, fitted_shape, flip, from_network_grid  # noqa: E402
from radiomark.transforms.spatial import to_network_grid  # noqa: E402

INPUTS = {"sarcopenia": "explicit_VR-UN.dcm", "neonatal-rds": "RG1_UNCR.dcm"}


def _timed(step: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = step()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times), result


def profile(recipe_name: str, repeats: int) -> dict:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(INPUTS[recipe_name], download=False)
    model = bundled_model_dir(recipe_name)
    segmenter = Segmenter.load(model)
    recipe = segmenter.recipe
    stages: dict[str, float] = {}
    stages["read DICOM"], image = _timed(lambda: read_image(path, select=recipe.series_selector), repeats)
    size = recipe.preprocessing.spatial_size
    flips, fitted = canonical_flips(image), fitted_shape(image, size)

    def preprocess() -> torch.Tensor:
        unit = torch.from_numpy(np.ascontiguousarray(flip(to_unit_interval(image.array, recipe.preprocessing),
                                                          flips)))[None]
        return torch.as_tensor(to_network_grid(unit, fitted, size, mode="area", pad_value=0.0))[None]

    stages["preprocess"], network_input = _timed(preprocess, repeats)
    stages["network"], probabilities = _timed(lambda: segmenter._network_probabilities(network_input), repeats)

    def back() -> np.ndarray:
        grid = np.asarray(from_network_grid(probabilities, fitted, image.shape), dtype=np.float32)
        return grid.argmax(axis=0)

    stages["back to image grid"], _ = _timed(back, repeats)
    predicted = segmenter.predict(image)
    stages["post-processing"], labels = _timed(lambda: postprocess(recipe, image, predicted), repeats)
    stages["biomarkers"], measurements = _timed(lambda: BIOMARKERS[recipe.biomarkers](image, labels), repeats)
    if ImageClassifier.exists(model):
        classifier = ImageClassifier.load(model)
        stages["classifier"], _ = _timed(lambda: classifier.probability(image, labels), repeats)
    result = CaseResult("profile", str(path), Clinical(), measurements, [], None)
    with tempfile.TemporaryDirectory() as out:
        stages["write outputs"], _ = _timed(
            lambda: write_case_outputs(recipe, image, labels, result, Path(out) / "case", "bundled",
                                       OutputOptions(dicom_seg=True, dicom_sr=True)), repeats)
    total = sum(stages.values())
    return {"recipe": recipe_name, "input": f"{INPUTS[recipe_name]} ({image.shape[0]}x{image.shape[1]})",
            "backend": segmenter.backend, "stages_ms": stages, "total_ms": total,
            "largest": max(stages, key=stages.get)}


def markdown(results: dict) -> str:
    environment_ = results["environment"]
    lines = ["# Inference profile (median ms per stage)", "",
             f"Machine: {environment_['cpu_model']}, {environment_['cpu_cores']} cores; "
             f"commit {environment_['git_commit'][:10]}", ""]
    for entry in results["profiles"]:
        lines += [f"## {entry['recipe']}: {entry['input']}, network on {entry['backend']}", "",
                  "| stage | ms | share |", "|---|---|---|"]
        lines += [f"| {stage} | {ms:.1f} | {100 * ms / entry['total_ms']:.0f} % |"
                  for stage, ms in entry["stages_ms"].items()]
        lines += [f"| total | {entry['total_ms']:.1f} | |", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    results = {"benchmark": "profile_inference", "environment": environment(),
               "profiles": [profile(name, args.repeats) for name in INPUTS]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile_inference.json").write_text(json.dumps(results, indent=2))
    (args.out / "profile_inference.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
