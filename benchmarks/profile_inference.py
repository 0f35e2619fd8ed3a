"""Where inference time goes: each stage of `radiomark run` timed separately, per recipe.

    .venv/bin/python benchmarks/profile_inference.py [--repeats 10]

Stages: read (DICOM decode), preprocess (intensity mapping + placement on the network grid:
resize for 2D, SimpleITK resampling for 3D), network (all folds; sliding windows for 3D), back to
the image grid (resize / resampling + argmax), post-processing, biomarkers, classifier (where the
recipe has one), writing every output of the case (DICOM SEG and SR included) and the cohort table
and page (`cohort.csv`, `cohort.html`) that every run writes. Inputs: the real CT slice `explicit_VR-UN.dcm`
(sarcopenia) and the real chest CR `RG1_UNCR.dcm` (neonatal-rds) from the pydicom-data package; a
multi-echo DICOM phantom (nigra, 5 echoes + QSM); a semi-synthetic head CT made from the real CQ500
template (brain-gwr; needs ../shared/data). Bundled models, PyTorch and, when exported, ONNX Runtime.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from environment import environment  # noqa: E402

from radiomark.case import CaseResult, Clinical  # noqa: E402
from radiomark.inference.classifier import ImageClassifier  # noqa: E402
from radiomark.inference.predictor import Segmenter, bundled_model_dir  # noqa: E402
from radiomark.io.study import StudyImages, read_study  # noqa: E402
from radiomark.outputs.case_folder import write_case_outputs  # noqa: E402
from radiomark.outputs.cohort import write_cohort  # noqa: E402
from radiomark.outputs.options import OutputOptions  # noqa: E402
from radiomark.pipeline.steps import measure, postprocess  # noqa: E402
from radiomark.recipes import load_recipe  # noqa: E402
from radiomark.transforms import volume  # noqa: E402
from radiomark.transforms.network_input import network_slice  # noqa: E402
from radiomark.transforms.spatial import (  # noqa: E402
    from_network_grid,  # noqa: E402
)

INPUTS = {"sarcopenia": "explicit_VR-UN.dcm", "neonatal-rds": "RG1_UNCR.dcm"}
DATA = ROOT.parent / "shared" / "data"


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
    segmenter = Segmenter.load(model, recipe=load_recipe(recipe_name))
    recipe = segmenter.recipe
    stages: dict[str, float] = {}
    stages["read DICOM"], image = _timed(lambda: read_study(path, recipe).image, repeats)
    stages["preprocess"], (network_input, _, fitted) = _timed(lambda: network_slice(image, recipe.preprocessing),
                                                               repeats)
    network_input = network_input[None]
    stages["network"], probabilities = _timed(lambda: segmenter.network_probabilities(network_input), repeats)

    def back() -> np.ndarray:
        grid = np.asarray(from_network_grid(probabilities, fitted, image.shape), dtype=np.float32)
        return grid.argmax(axis=0)

    stages["back to image grid"], _ = _timed(back, repeats)
    predicted = segmenter.predict(image)
    stages["post-processing"], labels = _timed(lambda: postprocess(recipe, image, predicted), repeats)
    stages["biomarkers"], measurements = _timed(lambda: measure(recipe, StudyImages((image,)), labels), repeats)
    if ImageClassifier.exists(model):
        classifier = ImageClassifier.load(model)
        stages["classifier"], _ = _timed(lambda: classifier.probability(image, labels), repeats)
    stages["write outputs"], stages["cohort table and page"] = _write_outputs(recipe, image, labels, measurements,
                                                                              str(path), repeats)
    return _summary(recipe_name, f"{INPUTS[recipe_name]} ({image.shape[0]}x{image.shape[1]})", segmenter, stages)


def _write_outputs(recipe: object, image: object, labels: object, measurements: dict, source: str,
                   repeats: int) -> tuple[float, float]:
    """Milliseconds to write the case's outputs (SEG and SR included) and the one-study cohort
    table and page."""
    result = CaseResult("profile", source, Clinical(), measurements, [], None)
    with tempfile.TemporaryDirectory() as out:
        milliseconds, written = _timed(lambda: write_case_outputs(
            recipe, image, labels, result, Path(out) / "case", "bundled",
            OutputOptions(dicom_seg=True, dicom_sr=True)), repeats)
        cohort_ms, _ = _timed(lambda: write_cohort([written.row()], [], Path(out)), repeats)
    return milliseconds, cohort_ms


def _summary(recipe_name: str, described: str, segmenter: Segmenter, stages: dict[str, float]) -> dict:
    total = sum(stages.values())
    return {"recipe": recipe_name, "input": described, "backend": segmenter.backend, "stages_ms": stages,
            "total_ms": total, "largest": max(stages, key=stages.get)}


def _volume_study(recipe_name: str, folder: Path) -> tuple[Path, str] | None:
    """A DICOM study for a 3D recipe, written under ``folder``; None when its data is missing."""
    from radiomark.phantoms import generate_case, write_case

    if recipe_name == "nigra":
        return write_case(generate_case("nigra", 1000), folder, "dicom"), "multi-echo DICOM phantom"
    if not (DATA / "ct-head-template").is_dir():
        return None
    from radiomark.recipes.brain_gwr.dataset import build_atlas, cohort_case

    atlas = build_atlas(DATA / "ct-head-template", ROOT / "build" / "brain-gwr" / "cohort" / "atlas")
    return write_case(cohort_case(atlas, 1000), folder, "dicom"), "semi-synthetic head CT (CQ500 template), DICOM"


def profile_volume(recipe_name: str, repeats: int) -> dict | None:
    """The stages of a 3D recipe: read the study, resample onto the network grid, sliding windows,
    back onto the image grid, post-processing, measures, outputs."""
    model = bundled_model_dir(recipe_name)
    segmenter = Segmenter.load(model, recipe=load_recipe(recipe_name))
    recipe = segmenter.recipe
    spec = recipe.preprocessing
    with tempfile.TemporaryDirectory() as folder:
        found = _volume_study(recipe_name, Path(folder))
        if found is None:
            return None
        study_path, described = found
        stages: dict[str, float] = {}
        stages["read DICOM"], study = _timed(lambda: read_study(study_path, recipe), repeats)
        image = study.image
        reference = volume.network_grid(image, spec.target_spacing_mm)
        stages["preprocess (resample)"], array = _timed(
            lambda: volume.channels_on_grid(study.channels, spec, reference)[None], repeats)
        stages["network (sliding window)"], probabilities = _timed(
            lambda: segmenter.network_probabilities(array), repeats)
        stages["back to image grid"], _ = _timed(
            lambda: volume.from_network_grid(probabilities, reference, image).argmax(axis=0), repeats)
        predicted = segmenter.segment(study.channels).labels
        stages["post-processing"], labels = _timed(lambda: postprocess(recipe, image, predicted), repeats)
        stages["biomarkers"], measurements = _timed(lambda: measure(recipe, study, labels), repeats)
        stages["write outputs"], stages["cohort table and page"] = _write_outputs(
            recipe, image, labels, measurements, str(study_path), repeats)
    return _summary(recipe_name, f"{described} ({' x '.join(map(str, image.shape))})", segmenter, stages)


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
    volumes = [profile_volume(name, max(1, args.repeats // 3)) for name in ("nigra", "brain-gwr")]
    results = {"benchmark": "profile_inference", "environment": environment(),
               "profiles": [profile(name, args.repeats) for name in INPUTS] + [v for v in volumes if v is not None]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile_inference.json").write_text(json.dumps(results, indent=2))
    (args.out / "profile_inference.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
