"""ONNX export of a run folder's networks.

``export_onnx`` writes ``fold_<k>/model.onnx`` (segmenter) and ``classifier/model.onnx`` next to
the PyTorch weights, checks that ONNX Runtime reproduces PyTorch's outputs (sigmoid
probabilities, what radiomark uses) on a seeded random input within ``TOLERANCE``, times both
(median milliseconds per image on this machine) and records all of it in ``onnx.json``.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from radiomark.classification import CLASSIFIER_DIR
from radiomark.inference.classifier import ImageClassifier
from radiomark.inference.onnx import RECORD, TOLERANCE, OnnxNetwork, onnx_runtime
from radiomark.inference.predictor import Segmenter
from radiomark.inference.torch_network import TorchNetwork


def _export(network: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated but exact here
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (example,), str(path), input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                          dynamo=False)


def _median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def _export_and_compare(networks: list[tuple[torch.nn.Module, Path]], shape: tuple[int, ...],
                        repeats: int) -> dict[str, Any]:
    example = torch.from_numpy(np.random.default_rng(0).random((1, *shape), dtype=np.float32))
    differences, logit_differences, torch_ms, runtime_ms = [], [], [], []
    for network, path in networks:
        network.eval()
        _export(network, example, path)
        exported = OnnxNetwork(path)
        with torch.no_grad():
            reference, logits = network(example), torch.from_numpy(exported(example.numpy()))
            differences.append(float((torch.sigmoid(logits) - torch.sigmoid(reference)).abs().max()))
            logit_differences.append(float((logits - reference).abs().max()))
            torch_ms.append(_median_ms(functools.partial(network, example), repeats))
        runtime_ms.append(_median_ms(functools.partial(exported, example.numpy()), repeats))
    difference = max(differences)
    torch_total, runtime_total = sum(torch_ms), sum(runtime_ms)
    equal = difference <= TOLERANCE
    return {"files": [str(path.name if path.parent.name == CLASSIFIER_DIR else f"{path.parent.name}/{path.name}")
                      for _, path in networks],
            "input_shape": list(example.shape), "max_abs_difference": difference,
            "max_abs_logit_difference": max(logit_differences), "equal": equal,
            "torch_ms": torch_total, "onnxruntime_ms": runtime_total,
            "preferred": "onnxruntime" if equal and runtime_total < torch_total else "torch"}


def export_onnx(run_dir: str | os.PathLike[str], repeats: int = 10) -> dict[str, Any]:
    """Export the segmenter folds and the classifier of ``run_dir`` to ONNX; returns ``onnx.json``."""
    onnx_runtime()
    folder = Path(run_dir)
    segmenter = Segmenter.load(folder, backend="torch")
    folds = sorted(folder.glob("fold_*/best.pt"))
    record: dict[str, Any] = {"tolerance": TOLERANCE, "torch_threads": torch.get_num_threads(),
                              "note": "timings are medians on the machine that exported, one image per call"}
    spec = segmenter.recipe.preprocessing
    patch = spec.network_size() if spec.spatial_dims == 2 else spec.patch()  # what one network call sees
    record["segmenter"] = _export_and_compare(
        [(cast(TorchNetwork, network).module, path.parent / "model.onnx")  # a torch-backend load
         for network, path in zip(segmenter.networks, folds, strict=True)],
        (len(segmenter.recipe.inputs.echoes), *patch), repeats)
    if ImageClassifier.exists(folder):
        classifier = ImageClassifier.load(folder, backend="torch")
        assert classifier.recipe.classifier is not None
        record["classifier"] = _export_and_compare([(cast(TorchNetwork, classifier.network).module,
                                                     folder / CLASSIFIER_DIR / "model.onnx")],
                                                   (1, *classifier.recipe.classifier.spatial_size), repeats)
    (folder / RECORD).write_text(json.dumps(record, indent=2))
    return record
