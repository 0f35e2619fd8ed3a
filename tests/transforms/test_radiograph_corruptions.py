"""Real-world chest-film corruptions drawn onto clean films: each kind changes what it should and
leaves the lung mask the truth (moved only with the film), and the training transform is
deterministic per seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from radiomark.transforms.radiograph_corruptions import KINDS, RandChestFilmd, corrupt, opacity


def _film(size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    rows, columns = np.indices((size, size))
    right = ((rows - size * 0.5) / (size * 0.3)) ** 2 + ((columns - size * 0.3) / (size * 0.15)) ** 2 < 1
    left = ((rows - size * 0.5) / (size * 0.3)) ** 2 + ((columns - size * 0.7) / (size * 0.15)) ** 2 < 1
    image = np.where(right | left, 0.25, 0.7)
    return image, np.stack([right, left])


def test_each_opacity_makes_the_lungs_denser_and_leaves_the_rest():
    image, sides = _film()
    lungs = sides.any(axis=0)
    for kind in ("ground_glass", "consolidation", "haze", "effusion", "collapse"):
        out = opacity(image, lungs, np.random.default_rng(3), kind)
        assert out[lungs].mean() > image[lungs].mean() + 0.005, kind
        far = ~binary_dilation(lungs, iterations=8)  # beyond the soft edge
        np.testing.assert_allclose(out[far], image[far], atol=1e-3, err_msg=kind)
        assert 0 <= out.min() and out.max() <= 1


def test_portable_moves_film_and_mask_together_and_never_collimates_the_lungs():
    image, sides = _film()
    lungs = sides.any(axis=0)
    film, moved = corrupt(image, lungs, "portable", np.random.default_rng(5))
    assert 0.3 < moved.sum() / lungs.sum() < 1.0  # a smaller thorax
    assert abs(film[moved].mean() - 0.25) < 0.06  # the lungs are still where the mask says
    for kind in ("opacity", "lines", "low_contrast"):
        assert corrupt(image, lungs, kind, np.random.default_rng(5))[1] is lungs
    with pytest.raises(ValueError, match="unknown corruption 'snow'"):
        corrupt(image, lungs, "snow", np.random.default_rng(0))
    assert KINDS == ("opacity", "lines", "portable", "low_contrast")


def test_the_training_transform_is_deterministic_and_moves_the_labels_with_the_film():
    image, sides = _film()
    sample = {"image": torch.as_tensor(image[None], dtype=torch.float32),
              "label": torch.as_tensor(sides, dtype=torch.float32)}
    first = RandChestFilmd({"portable": 1.0, "lines": 1.0}).set_random_state(7)(sample)
    again = RandChestFilmd({"portable": 1.0, "lines": 1.0}).set_random_state(7)(sample)
    torch.testing.assert_close(first["image"], again["image"])
    torch.testing.assert_close(first["label"], again["label"])
    assert first["label"].shape == (2, 128, 128) and 0 < first["label"].sum() < sample["label"].sum()
    assert not torch.equal(first["image"], sample["image"])
    untouched = RandChestFilmd({"opacity": 0.0}).set_random_state(7)(sample)
    assert untouched["image"] is sample["image"]
    with pytest.raises(ValueError, match="unknown corruptions"):
        RandChestFilmd({"snow": 1.0})  # type: ignore[dict-item]
