"""Intensities to [0, 1]: CT windowing (HU; fixed for inference, random for training) and
per-image percentile scaling (X-ray, where stored values have no physical unit)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.transforms import MapTransform, RandomizableTransform, ScaleIntensityRange, ScaleIntensityRangePercentiles

from radiomark.recipes.schema import Preprocessing


def window(values: Any, level: float, width: float) -> Any:
    """Map HU in [level - width/2, level + width/2] linearly to [0, 1], clipping outside."""
    return ScaleIntensityRange(a_min=level - width / 2, a_max=level + width / 2, b_min=0.0, b_max=1.0,
                               clip=True)(values)


class RandomWindowd(MapTransform, RandomizableTransform):
    """Random window augmentation: per sample, level ~ U(level_range) and width ~ U(width_range) HU.

    With probability ``1 - prob`` the fixed ``default`` (level, width) window is used instead, so
    the output is always in [0, 1].
    """

    def __init__(self, keys: Sequence[Hashable], level_range: tuple[float, float],
                 width_range: tuple[float, float], default: tuple[float, float], prob: float = 1.0) -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob)
        if level_range[0] > level_range[1] or not 0 < width_range[0] <= width_range[1]:
            raise ValueError(f"invalid window ranges: level {level_range}, width {width_range}")
        self.level_range, self.width_range, self.default = level_range, width_range, default
        self.level, self.width = default

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if self._do_transform:
            self.level = float(self.R.uniform(*self.level_range))
            self.width = float(self.R.uniform(*self.width_range))
        else:
            self.level, self.width = self.default

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        result = dict(data)
        self.randomize()
        for key in self.key_iterator(result):
            result[key] = window(result[key], self.level, self.width)
        return result


def as_unit_float(values: np.ndarray, level: float, width: float) -> np.ndarray:
    """``window`` for a NumPy array, returning float32."""
    return np.asarray(window(np.asarray(values, dtype=np.float32), level, width), dtype=np.float32)


def to_unit_interval(values: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """The recipe's intensity mapping to [0, 1] (float32): its fixed window, or its percentiles of
    the image's own values mapped to 0 and 1 and clipped."""
    if preprocessing.window is not None:
        return as_unit_float(values, preprocessing.window.level, preprocessing.window.width)
    assert preprocessing.percentiles is not None  # the schema guarantees one of the two
    low, high = preprocessing.percentiles
    scaled = ScaleIntensityRangePercentiles(lower=low, upper=high, b_min=0.0, b_max=1.0, clip=True)(
        np.array(values, dtype=np.float32))
    return np.asarray(scaled, dtype=np.float32)
