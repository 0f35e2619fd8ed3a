"""3D self-configuration: spacing, patch and down-sampling derived from the data, recorded."""

from __future__ import annotations

import numpy as np
import pytest

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.recipes import load_recipe
from radiomark.training.plan import lps_spacing, plan

NIGRA = load_recipe("nigra")


def _volume(shape, spacing):
    return Image(np.zeros(shape, dtype=np.int16), spacing)


def _open(recipe, **network):
    """The recipe with its spacing and patch left for planning and a DynUNet."""
    return recipe.model_copy(update={
        "preprocessing": recipe.preprocessing.model_copy(update={"target_spacing_mm": None, "patch_size": None}),
        "network": recipe.network.model_copy(update={"name": "dynunet", "strides": None,
                                                     "channels": (16, 32, 64, 128), **network})})


def test_anisotropic_data_gets_median_spacing_late_slice_pooling_and_a_patch_in_budget():
    images = [_volume((30, 200, 180), (4.0, 0.8, 0.8)), _volume((34, 210, 190), (5.0, 0.8, 0.8)),
              _volume((28, 190, 200), (4.5, 0.9, 0.9))]
    planned, record = plan(_open(NIGRA), images)
    spec = planned.preprocessing
    assert spec.target_spacing_mm == (4.5, 0.8, 0.8)
    assert np.prod(spec.patch_size) <= NIGRA.training.memory_budget_voxels
    strides = planned.network.strides
    assert strides[0] == (1, 2, 2)  # 4.5 mm slices are not pooled while rows/columns are finer
    divisor = np.prod(np.array(strides), axis=0)
    assert all(p % d == 0 for p, d in zip(spec.patch_size, divisor, strict=True))
    assert len(planned.network.channels) == len(strides) + 1 and max(planned.network.channels) == 128
    assert record["target_spacing_from"] == "median of the training volumes" and record["levels"] == len(strides)


def test_recipe_values_are_kept_and_vnet_patches_are_divisible_by_16():
    images = [_volume((20, 64, 64), (1.5, 0.75, 0.75))]
    kept, record = plan(NIGRA, images)
    assert kept.preprocessing.patch_size == (16, 64, 64) and record["patch_size_from"] == "recipe"
    vnet = NIGRA.model_copy(update={"preprocessing": NIGRA.preprocessing.model_copy(update={"patch_size": None})})
    planned, _ = plan(vnet, [_volume((21, 70, 66), (1.5, 0.75, 0.75))])
    assert all(side % 16 == 0 for side in planned.preprocessing.patch_size)
    wrong = NIGRA.model_copy(update={"preprocessing": NIGRA.preprocessing.model_copy(update={"patch_size": (20, 64,
                                                                                                            64)})})
    with pytest.raises(InputError, match=r"patch_size \(20, 64, 64\) must be divisible by \(16, 16, 16\)"):
        plan(wrong, images)


def test_spacing_is_read_along_lps_axes_whatever_the_array_order():
    sagittal = Image(np.zeros((10, 20, 30)), (1.0, 2.0, 3.0),
                     direction=np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]]))  # slices along x
    assert lps_spacing(sagittal) == (2.0, 3.0, 1.0)
