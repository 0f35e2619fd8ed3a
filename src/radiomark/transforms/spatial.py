"""Placing 2D slices on the network grid and back.

Orientation: rows towards posterior (+y), columns towards the patient's left (+x), as in a
standard supine DICOM axial image (LPS). Size: the slice is scaled uniformly in physical units so
that its longer side fills the network input and the other side is centre-padded, so anatomy is
never stretched (a non-square field of view or non-square pixels keep their true shape).
"""

from __future__ import annotations

from typing import Any

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


def to_network_grid(array: Any, fitted: tuple[int, int], size: tuple[int, int], mode: str, pad_value: float) -> Any:
    """``[channels, rows, columns]`` resized to ``fitted`` then centre-padded with ``pad_value`` to ``size``."""
    from monai.transforms import Resize, SpatialPad

    resized = Resize(fitted, mode=mode)(array)
    return SpatialPad(size, method="symmetric", mode="constant", value=pad_value)(resized)


def from_network_grid(array: Any, fitted: tuple[int, int], shape: tuple[int, int]) -> Any:
    """Inverse of :func:`to_network_grid`: crop the centred ``fitted`` region, resize (bilinear) to ``shape``."""
    from monai.transforms import Resize

    size = array.shape[-2:]
    top, left = ((s - f) // 2 for s, f in zip(size, fitted, strict=True))
    cropped = array[..., top:top + fitted[0], left:left + fitted[1]]
    return Resize(shape, mode="bilinear")(cropped)
