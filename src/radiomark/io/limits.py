"""Size limits that keep a hostile or broken header from exhausting memory."""

from __future__ import annotations

import os
from collections.abc import Sequence

from radiomark.errors import InputError

#: Largest image radiomark reads: 2**30 samples (4 GiB as float32), far above any clinical series.
MAX_SAMPLES = 1 << 30


def check_size(path: str | os.PathLike[str] | None, shape: Sequence[int]) -> None:
    """Refuse an image with a zero-length axis or more than :data:`MAX_SAMPLES` samples."""
    dims = [int(n) for n in shape]
    if not dims or min(dims) <= 0:
        raise InputError(path, f"the image has an empty axis (shape {tuple(dims)})")
    total = 1
    for n in dims:
        total *= n
    if total > MAX_SAMPLES:
        raise InputError(path, f"the image is too large to read ({total:,} samples, shape {tuple(dims)}; "
                               f"the limit is {MAX_SAMPLES:,})")
