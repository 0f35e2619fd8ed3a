"""Clean-up of predicted label maps: HU gating, sides of bilateral structures from the midline,
largest component, hole filling and small-component removal, each per structure (SciPy; the
connectivity of MONAI's transforms, checked against them in ``tests/inference/test_numpy_equivalence.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

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
    """Drop connected components (per label, face connectivity) smaller than ``min_size`` mm² (2D)
    or mm³ (3D): scikit-image's ``remove_small_objects`` on SciPy's labelling, which inference
    already imports (scikit-image's morphology module costs 0.4 s of start-up)."""
    if min_size <= 0:
        return labels
    min_samples = int(np.ceil(min_size / labels.sample_size))
    array = np.array(labels.array)
    for value in labels.labels:
        components, count = ndimage.label(array == value)
        if count and min_samples > 1:
            small = np.bincount(components.ravel()) < min_samples
            small[0] = False
            array[small[components]] = 0
    return LabelMap.like(labels, array, labels.labels)


def bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...] | None:
    """The slices of the smallest box holding every set voxel of ``mask``, widened by ``margin``
    voxels where the image allows; None when nothing is set. Work on a structure in its box costs
    what the structure costs, not the image (a lung is a quarter of a radiograph)."""
    box = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if present.size == 0:
            return None
        box.append(slice(max(int(present[0]) - margin, 0), min(int(present[-1]) + 1 + margin, mask.shape[axis])))
    return tuple(box)


def largest_component(mask: np.ndarray, structure: np.ndarray | None = None) -> np.ndarray:
    """The largest connected piece of ``mask`` (connectivity ``structure``; SciPy's default, faces
    only, when None) as a boolean mask; of pieces of equal size the first in raster order; empty
    when ``mask`` is."""
    components, count = ndimage.label(mask, structure=structure)
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return components == int(np.argmax(sizes))


def keep_largest_component(labels: LabelMap) -> LabelMap:
    """Keep only the largest connected component of each structure (full connectivity), as MONAI's
    ``KeepLargestConnectedComponent(independent=True)`` does, without its torch import (of pieces of
    equal size, the first in raster order is kept; MONAI leaves that to its sort)."""
    array = np.array(labels.array)
    structure = ndimage.generate_binary_structure(array.ndim, array.ndim)
    for value in sorted(labels.labels):
        box = bounding_box(array == value)
        if box is None:
            continue
        mask = array[box] == value
        array[box][mask & ~largest_component(mask, structure)] = 0
    return LabelMap.like(labels, array, labels.labels)


def fill_holes(labels: LabelMap) -> LabelMap:
    """Fill the enclosed holes of each structure, in label order: what MONAI's ``FillHoles``
    computes — the parts of the rest (full connectivity) that do not reach the image border — by
    one labelling pass instead of its iterated dilation (10× faster on a radiograph), without its
    torch import. A hole is filled even where another structure lies in it."""
    array = np.array(labels.array)
    structure = ndimage.generate_binary_structure(array.ndim, array.ndim)
    for value in sorted(labels.labels):
        # In the structure's box widened by one voxel, the rest reaches the box's edge exactly
        # where it reaches the image's border: everything outside the box is rest, and connected.
        box = bounding_box(array == value, margin=1)
        if box is None:
            continue
        rest, _ = ndimage.label(array[box] != value, structure=structure)
        border = np.unique(np.concatenate([np.moveaxis(rest, axis, 0)[[0, -1]].ravel() for axis in range(rest.ndim)]))
        array[box][(rest > 0) & ~np.isin(rest, border)] = value
    return LabelMap.like(labels, array, labels.labels)


def sides_from_midline(labels: LabelMap, pairs: Sequence[tuple[str, str]], cluster_mm: float) -> LabelMap:
    """Anatomical clean-up of bilateral structures that lie together (the substantia nigra and the
    crus cerebri of both sides, in the midbrain).

    The union of all paired structures is split into clusters: connected components after joining
    voxels within ``cluster_mm`` of each other (so the two sides of one midbrain form one cluster).
    Only the largest cluster is kept. Each (right, left) pair's voxels are then assigned a side by
    position: voxels at smaller LPS x than the cluster's centre are the patient's right. The network
    only has to find the structures; which side they are on follows from where they are.
    """
    array = np.array(labels.array)
    values = {name: value for value, name in labels.labels.items()}
    paired = np.isin(array, [values[name] for pair in pairs for name in pair])
    if not paired.any():
        return labels
    near = ndimage.distance_transform_edt(~paired, sampling=labels.require_spacing()) <= cluster_mm
    clusters, count = ndimage.label(near, structure=np.ones((3,) * labels.ndim))
    sizes = np.bincount(clusters[paired], minlength=count + 1)
    kept = paired & (clusters == int(np.argmax(sizes)))
    indices = np.argwhere(kept)
    x = (np.asarray(labels.origin_mm)[0]
         + (indices * np.asarray(labels.spacing_mm)) @ np.asarray(labels.direction)[0])
    right = np.zeros(array.shape, dtype=bool)
    right[tuple(indices.T)] = x < x.mean()
    result = np.where(paired & ~kept, 0, array)
    for right_name, left_name in pairs:
        pair = kept & np.isin(array, [values[right_name], values[left_name]])
        result[pair & right] = values[right_name]
        result[pair & ~right] = values[left_name]
    return LabelMap.like(labels, result, labels.labels)
