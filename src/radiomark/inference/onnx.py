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

from radiomark.errors import InputError, MissingDependencyError

#: Largest allowed |PyTorch − ONNX Runtime| difference of the output probabilities.
TOLERANCE = 1e-4
RECORD = "onnx.json"

#: Threads each network may use (ONNX Runtime intra-op, torch); ``None``: the library's default
#: (every core). Worker processes of a cohort set it so that workers × threads = cores.
_THREADS: list[int | None] = [None]


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function, float32, without overflow for large negative logits."""
    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, dtype=np.float32)))).astype(np.float32)


def set_threads(threads: int | None) -> None:
    """Threads for networks loaded from now on in this process (and for torch, when imported)."""
    import sys

    _THREADS[0] = threads
    if threads is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def onnx_runtime() -> Any:
    """The ``onnxruntime`` module; a missing install is a :class:`MissingDependencyError`."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("ONNX Runtime is not installed: pip install onnxruntime") from None
    return onnxruntime


class OnnxNetwork:
    """An exported network run by ONNX Runtime on CPU: a float32 batch in, its logits out (NumPy)."""

    def __init__(self, path: Path) -> None:
        runtime = onnx_runtime()
        self.path = path
        options = runtime.SessionOptions()
        if _THREADS[0] is not None:
            options.intra_op_num_threads = _THREADS[0]
            options.inter_op_num_threads = 1
        self.session = runtime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        (logits,) = self.session.run(None, {"image": np.ascontiguousarray(batch, dtype=np.float32)})
        return np.asarray(logits)


#: What ``--backend`` accepts.
BACKENDS = ("auto", "onnxruntime", "torch")


def check_backend(backend: str) -> None:
    """Refuse a backend other than :data:`BACKENDS`."""
    if backend not in BACKENDS:
        raise InputError(None, f"unknown --backend {backend!r}; use auto, onnxruntime or torch")


def choose_backend(run_dir: Path, part: str, backend: str) -> bool:
    """Whether ``part`` ("segmenter" / "classifier") of ``run_dir`` runs on ONNX Runtime.

    ``backend``: ``torch``; ``onnxruntime`` (an error when not exported); ``auto`` (ONNX Runtime
    when ``onnx.json`` says it was equal and faster, and ONNX Runtime is installed).
    """
    check_backend(backend)
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
