"""A trained PyTorch network behind the same NumPy call as :class:`~radiomark.inference.onnx.OnnxNetwork`.

Only this module (and training) imports torch for inference: a model without an ONNX export, or a
run with ``--backend torch``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiomark.errors import InputError
from radiomark.inference.onnx import _THREADS


class TorchNetwork:
    """A PyTorch module in eval mode: a float32 batch in, its logits out (NumPy, no gradients)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module.eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.module(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))).numpy()


def load_torch_network(path: Path, build: Callable[[], Any]) -> TorchNetwork:
    """The network ``build()`` with the weights of ``path`` (``best.pt``); an unreadable or
    mismatched file is an :class:`InputError` naming it."""
    if _THREADS[0] is not None:
        torch.set_num_threads(_THREADS[0])
    network = build()
    try:
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, EOFError) as error:
        raise InputError(path, f"cannot load the weights ({' '.join(str(error).split())[:200]})") from None
    return TorchNetwork(network)
