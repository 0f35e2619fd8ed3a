"""The 3D network grid: LPS-aligned whatever the source orientation, and back without loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap
from radiomark.io.sitk import resample_like
from radiomark.transforms import volume
from radiomark.transforms.sides import RandFlipSidesd, side_swap


def _marker_volume(direction=None, origin=(-10.0, -20.0, 5.0)):
    """A 6×20×16 volume (spacing 3, 1, 1.5 mm) with one bright block at a known array position."""
    array = np.zeros((6, 20, 16), dtype=np.float32)
    array[2:4, 4:8, 10:14] = 100.0
    return Image(array, (3.0, 1.0, 1.5), origin, direction)


def test_any_orientation_lands_lps_aligned_on_the_network_grid():
    plain = _marker_volume()
    # The same voxels stored with the column axis running right-to-left (towards -x).
    flipped_direction = np.array(plain.direction)
    flipped_direction[:, 2] *= -1
    origin = plain.index_to_point((0, 0, 15))
    flipped = Image(np.asarray(plain.array)[:, :, ::-1], plain.spacing_mm, tuple(origin), flipped_direction)
    grids = []
    for image in (plain, flipped):
        reference = volume.network_grid(image, (3.0, 1.0, 1.5))
        assert reference.GetSize() == (16, 20, 6) and reference.GetDirection() == (1, 0, 0, 0, 1, 0, 0, 0, 1)
        grids.append(volume.to_network_grid(image, reference))
    np.testing.assert_allclose(grids[0], grids[1], atol=1e-4)
    np.testing.assert_allclose(grids[0], plain.array, atol=1e-4)  # already LPS-aligned: unchanged


def test_results_go_back_onto_the_source_grid():
    image = _marker_volume()
    reference = volume.network_grid(image, (1.5, 1.0, 0.75))  # finer grid
    on_grid = volume.to_network_grid(image, reference)
    back = volume.from_network_grid(on_grid[None] / 100.0, reference, image)
    assert back.shape == (1, *image.shape)
    np.testing.assert_allclose(back[0] > 0.5, np.asarray(image.array) > 50)
    labels = LabelMap.like(image, (np.asarray(image.array) > 50).astype(np.uint8), {1: "block"})
    nearest = volume.to_network_grid(labels, reference, linear=False)
    assert nearest.dtype == np.uint8 and set(np.unique(nearest)) == {0, 1}
    resampled = resample_like(Image(on_grid, (1.5, 1.0, 0.75), image.origin_mm), image)
    np.testing.assert_allclose(resampled.array, image.array, atol=1e-3)
    with pytest.raises(GeometryError, match="a 3D recipe needs a volume"):
        volume.network_grid(image.take_slice(0), (1.0, 1.0, 1.0))


def test_left_right_flip_swaps_paired_structures():
    names = ["substantia_nigra_right", "substantia_nigra_left", "crus_cerebri_right", "crus_cerebri_left", "pons"]
    assert side_swap(names) == [1, 0, 3, 2, 4]
    label = torch.zeros(5, 2, 4, 6)
    label[0, :, :, :2] = 1  # "right" structure at small column indices (patient's right)
    image = torch.arange(48, dtype=torch.float32).reshape(1, 2, 4, 6)
    flipped = RandFlipSidesd(["image", "label"], "label", side_swap(names), volume.LEFT_RIGHT_AXIS, prob=1.0)(
        {"image": image, "label": label})
    assert torch.equal(torch.as_tensor(flipped["image"]), torch.flip(image, dims=[3]))
    # The structure now lies at large column indices, i.e. on the patient's left, and is labelled so.
    assert flipped["label"][1, :, :, 4:].all() and not flipped["label"][0].any()
    unchanged = RandFlipSidesd(["image", "label"], "label", side_swap(names), volume.LEFT_RIGHT_AXIS, prob=0.0)(
        {"image": image, "label": label})
    assert torch.equal(unchanged["label"], label)
