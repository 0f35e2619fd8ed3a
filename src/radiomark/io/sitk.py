"""Conversion between :class:`~radiomark.image.Image` and SimpleITK images (lossless), and resampling onto a grid.

SimpleITK indexes ``(x, y, z) = (column, row, slice)``, the reverse of the array order, and its
direction matrix holds the LPS unit vectors of those axes as columns. Both use LPS, so only the
axis order changes here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import SimpleITK as sitk

from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap


def image_to_sitk(image: Image) -> sitk.Image:
    """Convert ``image`` to SimpleITK; a 2D image must lie in the LPS x–y plane at z = 0.

    A 2D image placed elsewhere in 3D (an oblique or off-origin CT slice) would lose its
    placement in a 2D SimpleITK image: convert ``image.as_volume()`` instead.
    """
    spacing = image.require_spacing()
    result = sitk.GetImageFromArray(np.ascontiguousarray(image.array))
    result.SetSpacing([float(s) for s in reversed(spacing)])
    direction = image.direction[:, ::-1]
    if image.ndim == 2:
        if np.any(np.abs(direction[2]) > 1e-12) or image.origin_mm[2] != 0.0:
            raise GeometryError(image.metadata.get("source"),
                                "this 2D image lies outside the x-y plane; convert image.as_volume() instead")
        result.SetOrigin(image.origin_mm[:2])
        result.SetDirection(direction[:2].flatten().tolist())
    else:
        result.SetOrigin(image.origin_mm)
        result.SetDirection(direction.flatten().tolist())
    return result


def image_from_sitk(source: sitk.Image, metadata: Mapping[str, Any] | None = None,
                    labels: Mapping[int, str] | None = None) -> Image:
    """Convert a scalar SimpleITK image; with ``labels`` the result is a :class:`LabelMap`."""
    if source.GetNumberOfComponentsPerPixel() != 1:
        raise GeometryError(None, "only scalar SimpleITK images convert to an Image, "
                                  f"got {source.GetNumberOfComponentsPerPixel()} components per pixel")
    ndim = source.GetDimension()
    direction = np.asarray(source.GetDirection(), dtype=float).reshape(ndim, ndim)[:, ::-1]
    origin = np.zeros(3)
    origin[:ndim] = source.GetOrigin()
    direction3 = np.zeros((3, ndim))
    direction3[:ndim] = direction
    fields: dict[str, Any] = dict(array=sitk.GetArrayFromImage(source),
                                  spacing_mm=tuple(reversed(source.GetSpacing())),
                                  origin_mm=tuple(origin), direction=direction3, metadata=metadata or {})
    return Image(**fields) if labels is None else LabelMap(**fields, labels=labels)


def empty_like(image: Image) -> sitk.Image:
    """A SimpleITK image with ``image``'s grid (uint8 zeros): a resampling target."""
    return image_to_sitk(Image(np.zeros(image.shape, dtype=np.uint8), image.spacing_mm, image.origin_mm,
                               image.direction))


def resample_array(source: sitk.Image, reference: sitk.Image, linear: bool, default: float) -> np.ndarray:
    """``source`` resampled onto ``reference``'s grid (identity transform) as a ``[slice, row, column]``
    array: linear (float32) or nearest-neighbour (``source``'s type); ``default`` outside ``source``."""
    interpolator = sitk.sitkLinear if linear else sitk.sitkNearestNeighbor
    resampled = sitk.Resample(source, reference, sitk.Transform(), interpolator, default,
                              sitk.sitkFloat32 if linear else source.GetPixelID())
    return sitk.GetArrayFromImage(resampled)


def resample_like(image: Image, reference: Image, linear: bool = True) -> Image:
    """``image`` resampled onto ``reference``'s grid (volumes; 0 outside ``image``)."""
    if image.ndim != 3 or reference.ndim != 3:
        raise GeometryError(image.metadata.get("source"), f"resampling onto a grid needs volumes, got {image.shape} "
                                                          f"and {reference.shape}")
    values = resample_array(image_to_sitk(image), empty_like(reference), linear, 0.0)
    return Image(values, reference.spacing_mm, reference.origin_mm, reference.direction, image.metadata)
