"""Random CT window augmentation for training (MONAI dictionary transform)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai.transforms import MapTransform, RandomizableTransform

from radiomark.transforms.intensity import window


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
