"""Left–right flip augmentation that keeps "left" and "right" labels true.

Mirroring a volume across the patient's mid-sagittal plane turns the right substantia nigra into
a left one: a plain flip of image and labels would teach the network that the structure on the
left is the right one. :class:`RandFlipSidesd` flips along the left–right axis and swaps the
one-hot label channels of paired structures (``*_right`` ↔ ``*_left``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai.transforms import Flip, MapTransform, RandomizableTransform


def side_swap(names: Sequence[str]) -> list[int]:
    """The channel permutation that swaps each ``X_right`` with ``X_left`` (others stay)."""
    order = list(range(len(names)))
    index = {name: position for position, name in enumerate(names)}
    for position, name in enumerate(names):
        for this, other in (("_right", "_left"), ("_left", "_right")):
            if name.endswith(this) and name.removesuffix(this) + other in index:
                order[position] = index[name.removesuffix(this) + other]
    return order


class RandFlipSidesd(MapTransform, RandomizableTransform):
    """With probability ``prob``, flip ``keys`` along spatial axis ``axis`` (channel-first arrays)
    and reorder the channels of ``label_key`` by ``swap`` (see :func:`side_swap`)."""

    def __init__(self, keys: Sequence[Hashable], label_key: Hashable, swap: Sequence[int], axis: int,
                 prob: float) -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob)
        self.label_key, self.swap, self.flip = label_key, list(swap), Flip(spatial_axis=axis)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        result = dict(data)
        self.randomize(None)
        if not self._do_transform:
            return result
        for key in self.key_iterator(result):
            result[key] = self.flip(result[key])
        result[self.label_key] = result[self.label_key][self.swap]
        return result
