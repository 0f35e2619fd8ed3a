"""Self-configuration of a 3D recipe from its training data, after nnU-Net's experiment planning.

What the recipe leaves out is derived from the training volumes, and the run stores both the
completed recipe (``recipe.yaml``) and how it was derived (``plan.json``), so a run is
reproducible and inference needs no data:

* target spacing: the median spacing of the training volumes along each LPS axis;
* patch size: the median volume size on that spacing, shrunk along its physically longest axis
  until it fits ``training.memory_budget_voxels``, and rounded down to what the network's
  down-sampling needs;
* DynUNet / UNet down-sampling: per level, each axis is halved while its feature map stays at
  least 4 voxels and its spacing is at most twice the finest spacing (so thick-slice axes are
  pooled later, as nnU-Net does), for at most 5 levels; filters double per level from the
  recipe's first ``network.channels`` entry up to its largest;
* VNet: its fixed depth of 4 poolings needs patch sides divisible by 16.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.recipes.schema import Recipe
from radiomark.transforms import volume

MIN_FEATURE_MAP = 4
MAX_LEVELS = 5
VNET_DIVISOR = 16


def lps_spacing(image: Image) -> tuple[float, float, float]:
    """Sample spacing (mm) along the LPS z, y, x axes, i.e. (slice, row, column) of the network grid."""
    spacing = np.asarray(image.require_spacing())
    nearest = np.argmax(np.abs(image.direction), axis=1)  # array axis closest to LPS x, y, z
    return tuple(float(spacing[nearest[k]]) for k in (2, 1, 0))  # type: ignore[return-value]


def _poolings(patch: ArrayLike, spacing: ArrayLike) -> list[tuple[int, int, int]]:
    size, current = np.array(patch, dtype=float), np.array(spacing, dtype=float)
    strides: list[tuple[int, int, int]] = []
    while len(strides) < MAX_LEVELS:
        finest = current.min()
        pooled = (size / 2 >= MIN_FEATURE_MAP) & (current <= 2 * finest)
        if not pooled.any():
            break
        first, second, third = (int(2 if p else 1) for p in pooled)
        strides.append((first, second, third))
        size = np.where(pooled, size / 2, size)
        current = np.where(pooled, current * 2, current)
    return strides


def _fit_patch(shape: np.ndarray, spacing: np.ndarray, budget: int) -> np.ndarray:
    patch = np.maximum(shape.astype(int), 8)
    while np.prod(patch) > budget:
        axis = int(np.argmax(patch * spacing))
        patch[axis] = max(8, int(patch[axis] * 0.9))
    return patch


def plan(recipe: Recipe, images: Sequence[Image]) -> tuple[Recipe, dict[str, Any]]:
    """The recipe with its 3D grid and network completed from ``images`` (the training volumes),
    and a record of the derivation. Values the recipe gives are kept."""
    spec, network = recipe.preprocessing, recipe.network
    if spec.spatial_dims != 3:
        return recipe, {}
    if not images:
        raise InputError(None, "no training volumes to plan from")
    spacings = np.array([lps_spacing(image) for image in images])
    target = np.asarray(spec.target_spacing_mm or np.median(spacings, axis=0), dtype=float)
    shapes = np.array([volume.network_grid(image, target).GetSize()[::-1] for image in images])
    median_shape = np.median(shapes, axis=0)
    patch = np.asarray(spec.patch_size or _fit_patch(median_shape, target, recipe.training.memory_budget_voxels))
    strides: Any = network.strides
    channels = network.channels
    if network.name == "vnet":
        divisor = np.full(3, VNET_DIVISOR)
    else:
        if strides is None:
            planned = _poolings(patch, target)
            strides = tuple(planned)
            base, cap = network.channels[0], max(network.channels)
            channels = tuple(min(base * 2 ** level, cap) for level in range(len(planned) + 1))
        per_level = [np.broadcast_to(np.asarray(s), (3,)) for s in strides]
        divisor = np.prod(per_level, axis=0) if per_level else np.ones(3, dtype=int)
    if spec.patch_size is None:
        patch = np.maximum(divisor, (patch // divisor) * divisor)
    elif np.any(patch % divisor):
        raise InputError(None, f"recipe {recipe.name}: patch_size {spec.patch_size} must be divisible by "
                               f"{tuple(int(d) for d in divisor)} for its {network.name} down-sampling")
    patch_size = tuple(int(n) for n in patch)
    planned_recipe = recipe.model_copy(update={
        "preprocessing": spec.model_copy(update={"target_spacing_mm": tuple(float(s) for s in target),
                                                 "patch_size": patch_size}),
        "network": network.model_copy(update={"strides": strides, "channels": channels})})
    record = {"volumes": len(images),
              "median_spacing_mm": [float(s) for s in np.median(spacings, axis=0)],
              "target_spacing_mm": list(planned_recipe.preprocessing.target_spacing_mm or ()),
              "target_spacing_from": "recipe" if spec.target_spacing_mm else "median of the training volumes",
              "median_shape_voxels": [float(n) for n in median_shape],
              "patch_size": list(patch_size),
              "patch_size_from": "recipe" if spec.patch_size else "median shape fitted to the memory budget",
              "memory_budget_voxels": recipe.training.memory_budget_voxels,
              "batch_size": recipe.training.batch_size * recipe.training.patches_per_volume,
              "network": network.name, "strides": strides, "channels": list(channels),
              "levels": 4 if network.name == "vnet" else len(strides or ()),
              "note": "axes in (slice, row, column) order of the LPS-aligned network grid (+z, +y, +x)"}
    return planned_recipe, record
