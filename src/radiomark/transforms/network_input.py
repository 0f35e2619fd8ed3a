"""What a 2D network sees, built by one function for training and for inference.

A slice is put in canonical orientation, scaled uniformly so its longer side fills the network
input and centre-padded (see :mod:`radiomark.transforms.spatial`). Intensities are mapped to
[0, 1] by the recipe's window or percentiles and padded with 0 — except in training of a windowed
recipe (``keep_hu``), where the image stays in HU, padded with air, because the random window
augmentation maps it to [0, 1] later.
"""

from __future__ import annotations

import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.recipes.schema import Preprocessing
from radiomark.transforms.intensity import to_unit_interval
from radiomark.transforms.spatial import canonical_flips, fitted_shape, flip, to_network_grid

#: Padding of HU images on the network grid: air.
AIR_HU = -1024.0


def network_slice(image: Image, preprocessing: Preprocessing, keep_hu: bool = False
                  ) -> tuple[np.ndarray, tuple[bool, bool], tuple[int, int]]:
    """``[1, rows, columns]`` float32 on the network grid, with the flips and the fitted shape that
    bring results back (:func:`radiomark.transforms.spatial.from_network_grid`)."""
    size = preprocessing.network_size()
    flips, fitted = canonical_flips(image), fitted_shape(image, size)
    if keep_hu:
        values, pad_value = np.asarray(image.array, dtype=np.float32), AIR_HU
    else:
        values, pad_value = to_unit_interval(image.array, preprocessing), 0.0
    return to_network_grid(flip(values, flips)[None], fitted, size, mode="area", pad_value=pad_value), flips, fitted


def network_slice_target(labels: LabelMap, preprocessing: Preprocessing, values: list[int]) -> np.ndarray:
    """One-hot ``[len(values), rows, columns]`` float32 of a 2D label map on the same grid as
    :func:`network_slice` of its image (nearest neighbour, padded with background)."""
    size = preprocessing.network_size()
    flips, fitted = canonical_flips(labels), fitted_shape(labels, size)
    on_grid = to_network_grid(flip(np.asarray(labels.array, dtype=np.float32), flips)[None], fitted, size,
                              mode="nearest", pad_value=0)
    return np.concatenate([on_grid == value for value in values]).astype(np.float32)
