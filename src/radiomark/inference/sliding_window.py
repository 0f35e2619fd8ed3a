"""Sliding-window inference of a 3D network in NumPy, with Gaussian blending.

The same windows, weights and padding as MONAI's ``sliding_window_inference(mode="gaussian",
sigma_scale=0.125)`` — windows every ``int(patch · (1 − overlap))`` voxels, the last one moved
back to end at the border, an image smaller than the patch centre-padded with 0 — without torch,
so that a study runs on ONNX Runtime with no torch import. ``tests/inference/test_numpy_equivalence.py``
checks the two agree within 1e-4.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

#: Gaussian sigma as a fraction of the patch size along each axis (MONAI's default).
SIGMA_SCALE = 0.125


def gaussian_weights(patch: Sequence[int]) -> np.ndarray:
    """Product of 1D Gaussians centred on the patch, sigma ``SIGMA_SCALE`` · size, floored at its
    own minimum (at least 1e-3), float32: the weight of each voxel of a window."""
    weights = np.ones((), dtype=np.float32)
    for size in patch:
        x = np.arange(-(size - 1) / 2.0, (size - 1) / 2.0 + 1, dtype=np.float32)[:size]
        weights = np.multiply.outer(weights, np.exp(x ** 2 / np.float32(-2 * (size * SIGMA_SCALE) ** 2)))
    return np.maximum(weights, max(float(weights.min()), 1e-3)).astype(np.float32)


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """First index of each window along an axis of ``size`` voxels (``size >= patch``)."""
    step = patch if patch == size else max(int(patch * (1 - overlap)), 1)
    count = next((d for d in range(math.ceil(size / step)) if d * step + patch >= size), 0) + 1
    return [index * step - max(index * step + patch - size, 0) for index in range(count)]


def sliding_window_logits(network: Callable[[np.ndarray], np.ndarray], image: np.ndarray, patch: Sequence[int],
                          overlap: float, batch_size: int = 2) -> np.ndarray:
    """Blended network outputs ``[1, outputs, *spatial]`` of ``image`` ``[1, channels, *spatial]``.

    ``network`` maps a batch ``[n, channels, *patch]`` to ``[n, outputs, *patch]`` (float32).
    """
    spatial = image.shape[2:]
    margins = [(max(p - s, 0) // 2, max(p - s, 0) - max(p - s, 0) // 2) for s, p in zip(spatial, patch, strict=True)]
    padded = np.pad(image, [(0, 0), (0, 0), *margins]) if any(any(m) for m in margins) else image
    shape = padded.shape[2:]
    weights = gaussian_weights(patch)
    windows = [tuple(slice(start, start + p) for start, p in zip(starts, patch, strict=True))
               for starts in itertools.product(*(window_starts(s, p, overlap)
                                                 for s, p in zip(shape, patch, strict=True)))]
    total: np.ndarray | None = None
    count = np.zeros(shape, dtype=np.float32)
    for first in range(0, len(windows), batch_size):
        chosen = windows[first:first + batch_size]
        outputs = network(np.ascontiguousarray(np.stack([padded[0][(slice(None), *w)] for w in chosen])))
        if total is None:
            total = np.zeros((outputs.shape[1], *shape), dtype=np.float32)
        for window, output in zip(chosen, outputs, strict=True):
            total[(slice(None), *window)] += weights * output
            count[window] += weights
    assert total is not None  # at least one window
    blended = total / count
    crop = tuple(slice(low, low + s) for (low, _), s in zip(margins, spatial, strict=True))
    return blended[(slice(None), *crop)][None]
