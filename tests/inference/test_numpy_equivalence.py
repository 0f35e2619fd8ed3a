"""The NumPy inference arithmetic agrees with the MONAI / PyTorch transforms it stands in for.

Inference runs without torch (start-up: ~3 s of imports); these tests hold the NumPy copies of
MONAI's resizing, intensity scaling, median filter and Gaussian sliding window to the originals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.inferers import sliding_window_inference
from monai.transforms import MedianSmooth, Resize, ScaleIntensityRange, ScaleIntensityRangePercentiles

from radiomark.inference.sliding_window import sliding_window_logits
from radiomark.transforms.intensity import scale_range
from radiomark.transforms.spatial import resize


@pytest.mark.parametrize("mode", ["area", "bilinear", "nearest"])
@pytest.mark.parametrize(("source", "target"), [((101, 122), (212, 256)), ((300, 277), (64, 50)),
                                               ((37, 64), (37, 128)), ((50, 50), (23, 77))])
def test_resize_matches_monai(mode, source, target):
    values = np.random.default_rng(len(mode) + source[0]).normal(size=(2, *source)).astype(np.float32)
    expected = np.asarray(Resize(target, mode=mode)(torch.from_numpy(values)))
    # Float32 source positions round to ~8e-6 near index 64; times neighbour differences of up to
    # ~4 in this unit-variance noise, that is the largest honest difference (smooth images: far less).
    np.testing.assert_allclose(resize(values, target, mode), expected, atol=5e-5)


def test_intensity_scaling_matches_monai():
    values = np.random.default_rng(3).normal(0, 400, size=(64, 80)).astype(np.float32)
    expected = ScaleIntensityRange(a_min=-160, a_max=240, b_min=0.0, b_max=1.0, clip=True)(values)
    np.testing.assert_allclose(scale_range(values, -160, 240), np.asarray(expected), atol=1e-6)
    low, high = np.percentile(values, (1, 99))
    expected = ScaleIntensityRangePercentiles(lower=1, upper=99, b_min=0.0, b_max=1.0, clip=True)(values)
    np.testing.assert_allclose(scale_range(values, low, high), np.asarray(expected), atol=1e-5)


def test_median_filter_matches_monai():
    from radiomark.inference.predictor import Segmenter
    from radiomark.recipes import load_recipe

    recipe = load_recipe("neonatal-rds")
    probabilities = np.random.default_rng(5).random((2, 40, 33)).astype(np.float32)
    segmenter = Segmenter(recipe, (), Path("."))
    expected = np.asarray(MedianSmooth(recipe.postprocessing.median_filter_radius)(torch.from_numpy(probabilities)))
    np.testing.assert_allclose(segmenter._median_filter(probabilities), expected, atol=1e-7)


@pytest.mark.parametrize(("shape", "patch", "overlap"), [((37, 50, 61), (16, 24, 32), 0.5),
                                                         ((10, 30, 20), (16, 24, 32), 0.25),
                                                         ((48, 40, 48), (48, 40, 48), 0.5)])
def test_sliding_window_matches_monai(shape, patch, overlap):
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv3d(2, 3, 3, padding=1), torch.nn.Tanh(),
                                  torch.nn.Conv3d(3, 2, 3, padding=1)).eval()
    image = np.random.default_rng(1).random((1, 2, *shape), dtype=np.float32)
    with torch.no_grad():
        expected = sliding_window_inference(torch.from_numpy(image), patch, sw_batch_size=2, predictor=network,
                                            overlap=overlap, mode="gaussian").numpy()

        def numpy_network(batch: np.ndarray) -> np.ndarray:
            return network(torch.from_numpy(batch)).numpy()

        result = sliding_window_logits(numpy_network, image, patch, overlap)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, atol=1e-4)


def test_postprocessing_matches_monai_and_scikit_image():
    from monai.transforms import FillHoles, KeepLargestConnectedComponent
    from skimage.morphology import remove_small_objects

    from radiomark.image import LabelMap
    from radiomark.postprocess import fill_holes, keep_largest_component, remove_small_components

    rng = np.random.default_rng(11)
    for shape in ((90, 70), (20, 30, 25)):
        array = (rng.integers(0, 3, shape) * (rng.random(shape) < 0.6)).astype(np.int16)
        ring = (slice(5, 15),) * len(shape)
        array[ring], array[(slice(7, 13),) * len(shape)], array[(10,) * len(shape)] = 1, 0, 2  # a hole holding a 2
        labels = LabelMap(array=array, spacing_mm=(1.0,) * len(shape), labels={1: "a", 2: "b"})
        # (MONAI's transforms write into the array they are given: each gets a copy)
        expected = KeepLargestConnectedComponent(applied_labels=[1, 2], independent=True)(array[None].copy())
        assert 0 < np.count_nonzero(np.asarray(expected)) < np.count_nonzero(array)  # it removed something
        np.testing.assert_array_equal(keep_largest_component(labels).array, np.asarray(expected)[0])
        expected = FillHoles(applied_labels=[1, 2])(array[None].copy())
        assert not np.array_equal(np.asarray(expected)[0], array)  # it filled something
        np.testing.assert_array_equal(fill_holes(labels).array, np.asarray(expected)[0])
        reference = array.copy()
        for value in (1, 2):
            mask = reference == value
            reference[mask & ~remove_small_objects(mask, max_size=3)] = 0
        assert not np.array_equal(reference, array)
        np.testing.assert_array_equal(remove_small_components(labels, 4.0).array, reference)


def test_sigmoid_matches_torch():
    from radiomark.inference.onnx import sigmoid

    logits = np.linspace(-120, 120, 2001, dtype=np.float32)
    np.testing.assert_allclose(sigmoid(logits), torch.sigmoid(torch.from_numpy(logits)).numpy(), atol=1e-6)


def test_postprocessing_in_a_box_matches_monai_away_from_the_border():
    """A structure far from the image border (work is done in its bounding box)."""
    from monai.transforms import FillHoles, KeepLargestConnectedComponent

    from radiomark.image import LabelMap
    from radiomark.postprocess import fill_holes, keep_largest_component

    array = np.zeros((80, 90), dtype=np.int16)
    array[20:40, 30:50], array[25:35, 35:45], array[30, 40] = 1, 0, 2  # a ring of 1 holding a 2
    array[60:63, 70:72], array[50, 10:12] = 1, 2  # a smaller piece of 1, a larger one of 2 (no ties)
    labels = LabelMap(array=array, spacing_mm=(1.0, 1.0), labels={1: "a", 2: "b"})
    for ours, theirs in ((fill_holes, FillHoles(applied_labels=[1, 2])),
                         (keep_largest_component, KeepLargestConnectedComponent(applied_labels=[1, 2],
                                                                                independent=True))):
        expected = np.asarray(theirs(array[None].copy()))[0]
        assert not np.array_equal(expected, array)
        np.testing.assert_array_equal(ours(labels).array, expected)
