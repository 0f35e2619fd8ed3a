"""Clean-up of predicted label maps: HU gating, largest component, hole filling and small-component
removal, each per structure (MONAI / scikit-image)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from skimage.morphology import remove_small_objects

from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap


def gate_by_intensity(labels: LabelMap, image: Image, ranges: Mapping[str, tuple[float, float]]) -> LabelMap:
    """Set to background the pixels of each named structure whose value lies outside its range.

    ``ranges`` maps structure names to inclusive (low, high) limits in the image's units (HU).
    """
    if not labels.geometry_equal(image):
        raise GeometryError(image.metadata.get("source"), "the label map is not on the image grid")
    array = np.array(labels.array)
    values = np.asarray(image.array)
    for name, (low, high) in ranges.items():
        outside = labels.mask(name) & ((values < low) | (values > high))
        array[outside] = 0
    return LabelMap.like(labels, array, labels.labels)


def remove_small_components(labels: LabelMap, min_size: float) -> LabelMap:
    """Drop connected components (per label) smaller than ``min_size`` mm² (2D) or mm³ (3D)."""
    if min_size <= 0:
        return labels
    min_samples = int(np.ceil(min_size / labels.sample_size))
    array = np.array(labels.array)
    for value in labels.labels:
        mask = array == value
        kept = remove_small_objects(mask, max_size=min_samples - 1) if min_samples > 1 else mask
        array[mask & ~kept] = 0
    return LabelMap.like(labels, array, labels.labels)


def keep_largest_component(labels: LabelMap) -> LabelMap:
    """Keep only the largest connected component of each structure (MONAI, full connectivity)."""
    from monai.transforms import KeepLargestConnectedComponent

    kept = KeepLargestConnectedComponent(applied_labels=sorted(labels.labels), independent=True)(
        np.array(labels.array)[None])
    return LabelMap.like(labels, np.asarray(kept)[0], labels.labels)


def fill_holes(labels: LabelMap) -> LabelMap:
    """Fill the enclosed holes of each structure (MONAI ``FillHoles``); other structures win ties."""
    from monai.transforms import FillHoles

    filled = FillHoles(applied_labels=sorted(labels.labels))(np.array(labels.array)[None])
    return LabelMap.like(labels, np.asarray(filled)[0], labels.labels)
