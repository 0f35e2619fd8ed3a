"""ONNX Runtime execution of exported networks on CPU, and the choice of backend.

:mod:`radiomark.inference.export` writes the ONNX files and ``onnx.json``; a segmenter /
classifier loaded with ``backend="auto"`` runs on ONNX Runtime only where that file says the
export was both equal to PyTorch (within ``TOLERANCE``) and faster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiomark.errors import InputError, MissingDependencyError

#: Largest allowed |PyTorch − ONNX Runtime| difference of the output probabilities.
TOLERANCE = 1e-4
RECORD = "onnx.json"


def onnx_runtime() -> Any:
    """The ``onnxruntime`` module; a missing install is a :class:`MissingDependencyError`."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("ONNX Runtime is not installed: pip install 'radiomark[onnx]'") from None
    return onnxruntime


class OnnxNetwork:
    """An exported network run by ONNX Runtime on CPU, called like the PyTorch module it replaces."""

    def __init__(self, path: Path) -> None:
        runtime = onnx_runtime()
        self.path = path
        self.session = runtime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(None, {"image": batch.detach().numpy().astype(np.float32)})
        return torch.from_numpy(logits)


def choose_backend(run_dir: Path, part: str, backend: str) -> bool:
    """Whether ``part`` ("segmenter" / "classifier") of ``run_dir`` runs on ONNX Runtime.

    ``backend``: ``torch``; ``onnxruntime`` (an error when not exported); ``auto`` (ONNX Runtime
    when ``onnx.json`` says it was equal and faster, and ONNX Runtime is installed).
    """
    if backend not in ("auto", "torch", "onnxruntime"):
        raise InputError(None, f"unknown backend {backend!r}; use auto, torch or onnxruntime")
    if backend == "torch":
        return False
    record = run_dir / RECORD
    exported = record.is_file() and part in json.loads(record.read_text())
    if backend == "onnxruntime":
        if not exported:
            raise InputError(run_dir, f"no ONNX export of the {part}; run radiomark export {run_dir} --onnx")
        onnx_runtime()
        return True
    if not exported or json.loads(record.read_text())[part]["preferred"] != "onnxruntime":
        return False
    try:
        onnx_runtime()
    except MissingDependencyError:
        return False
    return True
