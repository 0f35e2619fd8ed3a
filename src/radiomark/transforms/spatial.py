"""Orientation of 2D slices for the network: rows towards posterior (+y), columns towards the
patient's left (+x), as in a standard supine DICOM axial image (LPS)."""

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
