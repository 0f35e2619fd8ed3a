"""The quality-control picture of a registration: the fixed image with the transferred labels, and
a checkerboard of the fixed and the registered moving image, in three orthogonal planes through
the labels' centre (array planes of the fixed grid; for an axial CT: axial, coronal, sagittal)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from radiomark.image import Image, LabelMap
from radiomark.outputs.figures import pyplot, save_png
from radiomark.outputs.overlay import COLOURS

_CHECKER_MM = 16.0


def _unit(values: np.ndarray) -> np.ndarray:
    """Grey levels in [0, 1]: a 0–80 HU brain window for CT (air far below -500 HU), else the 1st–99th
    percentiles."""
    low, high = (0.0, 80.0) if values.min() < -500 else tuple(np.percentile(values, (1, 99)))
    return np.clip((values - low) / max(high - low, 1e-9), 0, 1)


def _planes(array: np.ndarray, centre: np.ndarray) -> list[np.ndarray]:
    k, r, c = (int(round(x)) for x in centre)
    return [array[k], array[:, r, :][::-1], array[:, :, c][::-1]]  # superior at the top of the side views


def save_registration_qc(fixed: Image, moved: Image, labels: LabelMap, path: str | os.PathLike[str],
                         title: str) -> Path:
    """Write the QC PNG (see the module docstring); ``moved`` and ``labels`` lie on ``fixed``'s grid."""
    from matplotlib.colors import ListedColormap

    spacing = np.asarray(fixed.require_spacing())
    label_array = np.asarray(labels.array)
    centre = (np.argwhere(label_array > 0).mean(axis=0) if label_array.any()
              else (np.asarray(fixed.shape) - 1) / 2)
    fixed_unit, moved_unit = _unit(np.asarray(fixed.array, float)), _unit(np.asarray(moved.array, float))
    squares = np.indices(fixed.shape) * spacing[:, None, None, None] // _CHECKER_MM
    checker = np.where(squares.sum(axis=0) % 2 == 0, fixed_unit, moved_unit)
    aspects = [spacing[1] / spacing[2], spacing[0] / spacing[2], spacing[0] / spacing[1]]
    values = sorted(labels.labels)
    lookup = np.zeros(max(values, default=0) + 1, dtype=int)
    lookup[values] = np.arange(len(values))
    colours = ListedColormap([COLOURS[(v - 1) % len(COLOURS)] for v in values] or ["#e6194b"])
    figure, axes = pyplot().subplots(2, 3, figsize=(12, 8))
    for column, (grey, label_plane, grid, aspect) in enumerate(zip(
            _planes(fixed_unit, centre), _planes(label_array, centre), _planes(checker, centre), aspects,
            strict=True)):
        axes[0][column].imshow(grey, cmap="gray", vmin=0, vmax=1, aspect=aspect, interpolation="nearest")
        masked = np.ma.masked_where(label_plane == 0, lookup[label_plane])
        axes[0][column].imshow(masked, cmap=colours, vmin=0, vmax=max(len(values) - 1, 1), alpha=0.5,
                               aspect=aspect, interpolation="nearest")
        axes[1][column].imshow(grid, cmap="gray", vmin=0, vmax=1, aspect=aspect, interpolation="nearest")
    for axis in axes.ravel():
        axis.axis("off")
    axes[0][0].set_title("fixed image with transferred labels", fontsize=9, loc="left")
    axes[1][0].set_title(f"checkerboard fixed / registered moving ({_CHECKER_MM:g} mm squares)", fontsize=9,
                         loc="left")
    figure.suptitle(title, fontsize=10)
    return save_png(figure, path, dpi=90)
