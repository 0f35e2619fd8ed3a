"""Placing volumes on the network grid of a 3D recipe and back (SimpleITK resampling).

The network grid is aligned with the LPS axes: its array axes (slice, row, column) run along +z
(superior), +y (posterior) and +x (the patient's left) at the recipe's target spacing, and it
covers the physical extent of the source volume. Resampling works in physical space, so any
source orientation (oblique, sagittal, flipped) lands the same way, and results go back onto the
source grid exactly where they came from. The patient's left–right axis is therefore always the
last array axis on the network grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk
from numpy.typing import ArrayLike

from radiomark.errors import GeometryError
from radiomark.image import Image
from radiomark.io.sitk import empty_like, image_to_sitk, resample_array
from radiomark.recipes.schema import Preprocessing
from radiomark.transforms.intensity import to_unit_interval

#: Array axis of the patient's left–right direction on the network grid.
LEFT_RIGHT_AXIS = 2


def _require_volume(image: Image) -> None:
    if image.ndim != 3:
        raise GeometryError(image.metadata.get("source"), f"a 3D recipe needs a volume, got a 2D image {image.shape}")


def network_grid(image: Image, spacing_mm: ArrayLike) -> sitk.Image:
    """An empty SimpleITK image (float32) on the LPS-aligned grid at ``spacing_mm`` (slice, row,
    column) covering the centres of ``image``'s corner voxels."""
    _require_volume(image)
    corners = np.array([image.index_to_point(np.array(corner) * (np.array(image.shape) - 1))
                        for corner in np.ndindex(2, 2, 2)])
    low, high = corners.min(axis=0), corners.max(axis=0)  # LPS x, y, z
    spacing_xyz = np.asarray(spacing_mm, dtype=float)[::-1]
    size = np.floor((high - low) / spacing_xyz + 1e-6).astype(int) + 1
    reference = sitk.Image([int(n) for n in size], sitk.sitkFloat32)
    reference.SetOrigin(low.tolist())
    reference.SetSpacing(spacing_xyz.tolist())
    return reference


def to_network_grid(image: Image, reference: sitk.Image, linear: bool = True, default: float = 0.0) -> np.ndarray:
    """``image``'s values on ``reference``'s grid, ``[slice, row, column]``; outside it, ``default``.
    Label maps must use ``linear=False`` (nearest neighbour)."""
    _require_volume(image)
    return resample_array(image_to_sitk(image), reference, linear, default)


def channels_on_grid(channels: Sequence[Image], preprocessing: Preprocessing, reference: sitk.Image) -> np.ndarray:
    """The channels mapped to [0, 1] by the recipe's intensity mapping (on each image's own values)
    and resampled (linear) onto ``reference``: ``[channels, slice, row, column]``, 0 outside."""
    return np.stack([to_network_grid(Image(to_unit_interval(channel.array, preprocessing), channel.spacing_mm,
                                           channel.origin_mm, channel.direction), reference)
                     for channel in channels])


def from_network_grid(channels: np.ndarray, reference: sitk.Image, image: Image) -> np.ndarray:
    """``channels`` ``[c, slice, row, column]`` on ``reference``'s grid, resampled (linear) onto
    ``image``'s grid: ``[c, *image.shape]``; outside the network grid, 0."""
    _require_volume(image)
    target = empty_like(image)
    result = np.empty((len(channels), *image.shape), dtype=np.float32)
    for index, channel in enumerate(channels):
        source = sitk.GetImageFromArray(np.ascontiguousarray(channel, dtype=np.float32))
        source.CopyInformation(reference)
        result[index] = resample_array(source, target, True, 0.0)
    return result
