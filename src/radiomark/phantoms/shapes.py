"""Masks of simple shapes on an array grid, in array index units (row/column or slice/row/column)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def ellipsoid(shape: Sequence[int], center: ArrayLike, radii: ArrayLike,
              angle_deg: float = 0.0) -> np.ndarray:
    """Boolean mask of an ellipse (2D) or ellipsoid (3D) with ``radii`` along the array axes.

    ``angle_deg`` rotates the shape within the last two axes (the image plane), counter-clockwise
    as seen on screen (rows downwards).
    """
    grids = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    offsets = [g - c for g, c in zip(grids, np.asarray(center, dtype=float), strict=True)]
    theta = np.deg2rad(angle_deg)
    row, column = offsets[-2], offsets[-1]
    offsets[-2] = np.cos(theta) * row + np.sin(theta) * column
    offsets[-1] = -np.sin(theta) * row + np.cos(theta) * column
    return np.asarray(sum((o / r) ** 2 for o, r in zip(offsets, np.asarray(radii, dtype=float), strict=True)) <= 1.0)


def rotate_labels(labels: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate an integer map within its last two axes, nearest-neighbour, same shape."""
    from scipy.ndimage import rotate

    return rotate(labels, angle_deg, axes=(-2, -1), reshape=False, order=0, mode="constant", cval=0)


def paint(tissue: np.ndarray, values: dict[int, float]) -> np.ndarray:
    """An image whose value at each sample is ``values[tissue id]`` (float64)."""
    lookup = np.zeros(int(tissue.max()) + 1)
    for tissue_id, value in values.items():
        if tissue_id < lookup.size:
            lookup[tissue_id] = value
    return lookup[tissue]


def elastic_deform(labels: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Smooth random deformation of an integer map (displacements up to ``amplitude`` samples,
    correlated over about a twelfth of the grid), nearest-neighbour, same shape."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    grid = np.meshgrid(*[np.arange(n, dtype=float) for n in labels.shape], indexing="ij")
    coordinates = []
    for axis_grid in grid:
        field = gaussian_filter(rng.normal(size=labels.shape), sigma=max(labels.shape) / 12)
        coordinates.append(axis_grid + field / (np.abs(field).max() + 1e-9) * amplitude)
    return map_coordinates(labels, coordinates, order=0, mode="constant", cval=0)
