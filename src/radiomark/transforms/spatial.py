"""Placing 2D slices on the network grid and back.

Orientation: rows towards posterior (+y), columns towards the patient's left (+x), as in a
standard supine DICOM axial image (LPS). Size: the slice is scaled uniformly in physical units so
that its longer side fills the network input and the other side is centre-padded, so anatomy is
never stretched (a non-square field of view or non-square pixels keep their true shape).
"""

from __future__ import annotations

import numpy as np

from radiomark.image import Image


def canonical_flips(image: Image) -> tuple[bool, bool]:
    """Whether to flip (rows, columns) of a 2D axial slice so rows run +y and columns +x in LPS.

    Slices in other planes, and images without a placement in patient space, are left as they are.
    """
    rows, columns = image.direction[:, 0], image.direction[:, 1]
    if image.ndim != 2 or np.argmax(np.abs(image.normal)) != 2:
        return False, False
    return bool(rows[1] < 0), bool(columns[0] < 0)


def flip(array: np.ndarray, flips: tuple[bool, bool]) -> np.ndarray:
    """Flip the last two axes of ``array`` as ``flips`` says (its own inverse)."""
    axes = tuple(axis for axis, wanted in zip((-2, -1), flips, strict=True) if wanted)
    return np.flip(array, axis=axes) if axes else array


def fitted_shape(image: Image, size: tuple[int, int]) -> tuple[int, int]:
    """The (rows, columns) that keep ``image``'s physical aspect ratio with its longer side filling
    ``size``; pixels without a known spacing count as square."""
    spacing = image.spacing_mm or (1.0, 1.0)
    extent = np.asarray(image.shape, dtype=float) * np.asarray(spacing)
    scale = min(s / e for s, e in zip(size, extent, strict=True))
    return tuple(max(1, min(s, int(round(e * scale)))) for s, e in zip(size, extent, strict=True))  # type: ignore[return-value]


def _area_axis(array: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Area (box-average) resampling of one axis to ``size``: output ``i`` averages the input
    cells ``floor(i·n/size)`` to ``ceil((i+1)·n/size)`` — PyTorch's adaptive average pooling, which
    is MONAI's ``Resize(mode="area")`` (running sums in float64)."""
    n = array.shape[axis]
    index = np.arange(size)
    start, end = index * n // size, ((index + 1) * n + size - 1) // size
    sums = np.cumsum(array, axis=axis, dtype=np.float64)
    shape = [size if a == axis else 1 for a in range(array.ndim)]
    before = np.take(sums, np.maximum(start - 1, 0), axis=axis) * (start > 0).reshape(shape)
    return (np.take(sums, end - 1, axis=axis) - before) / (end - start).reshape(shape)


def _bilinear_axis(array: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Linear resampling of one axis to ``size`` with pixel centres aligned (``align_corners=False``,
    source clamped at the first cell), as PyTorch's and MONAI's bilinear ``Resize`` (positions in
    float32, as PyTorch computes them)."""
    n = array.shape[axis]
    scale = np.float32(n / size)
    source = np.maximum(scale * (np.arange(size, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5),
                        np.float32(0.0))
    low = np.floor(source).astype(np.intp)
    weight = (source - low).astype(np.float32).reshape([size if a == axis else 1 for a in range(array.ndim)])
    result = np.take(array, low, axis=axis)
    step = np.take(array, np.minimum(low + 1, n - 1), axis=axis) - result
    step *= weight
    result += step
    return result


def _nearest_axis(array: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Nearest-neighbour resampling of one axis to ``size``: output ``i`` takes input
    ``floor(i·n/size)`` computed in float32, exactly as PyTorch's (legacy) ``nearest`` mode."""
    n = array.shape[axis]
    source = np.floor(np.arange(size, dtype=np.float32) * np.float32(n / size)).astype(int)
    return np.take(array, np.minimum(source, n - 1), axis=axis)


_RESAMPLERS = {"area": _area_axis, "bilinear": _bilinear_axis, "nearest": _nearest_axis}


def resize(array: np.ndarray, shape: tuple[int, int], mode: str) -> np.ndarray:
    """``[channels, rows, columns]`` resampled to ``shape`` by ``mode`` (``area``, ``bilinear`` or
    ``nearest``), float32.

    The same arithmetic as MONAI's ``Resize`` (PyTorch interpolation, no anti-aliasing), in NumPy
    so that inference needs no torch import (~3 s of start-up); ``tests/inference/test_numpy_equivalence.py``
    checks the two agree within 5e-5 on unit-variance noise.
    """
    resample = _RESAMPLERS[mode]
    result = np.asarray(array, dtype=np.float32)
    for axis, size in ((-2, shape[0]), (-1, shape[1])):
        if result.shape[axis] != size:
            result = resample(result, result.ndim + axis, size)
    return np.asarray(result, dtype=np.float32)


def to_network_grid(array: np.ndarray, fitted: tuple[int, int], size: tuple[int, int], mode: str,
                    pad_value: float) -> np.ndarray:
    """``[channels, rows, columns]`` resized to ``fitted`` then centre-padded with ``pad_value`` to
    ``size`` (the extra row or column of an odd margin goes after, as MONAI's symmetric ``SpatialPad``)."""
    resized = resize(array, fitted, mode)
    margins = [(0, 0)] + [((s - f) // 2, s - f - (s - f) // 2) for s, f in zip(size, fitted, strict=True)]
    return np.pad(resized, margins, mode="constant", constant_values=pad_value)


def from_network_grid(array: np.ndarray, fitted: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`to_network_grid`: crop the centred ``fitted`` region, resize (bilinear) to ``shape``."""
    size = array.shape[-2:]
    top, left = ((s - f) // 2 for s, f in zip(size, fitted, strict=True))
    return resize(array[..., top:top + fitted[0], left:left + fitted[1]], shape, "bilinear")
