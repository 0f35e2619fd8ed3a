"""PNG / JPEG radiographs (Pillow): 8- or 16-bit greyscale, RGB accepted when it is grey.

A raster file carries no trustworthy physical size, so the spacing is ``None`` unless the
caller gives it (``spacing_mm`` = (row, column) pixel spacing in mm).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.io.atomic import atomic_file

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg")


def is_raster_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a PNG or JPEG file by its suffix."""
    return str(path).lower().endswith(RASTER_SUFFIXES)


def read_raster(path: str | os.PathLike[str], spacing_mm: tuple[float, float] | None = None) -> Image:
    """Read a PNG/JPEG radiograph as a 2D image of its stored grey values."""
    try:
        with PILImage.open(path) as opened:
            opened.load()
            picture = opened
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, PILImage.DecompressionBombError) as error:
        raise InputError(path, f"not a readable PNG/JPEG image ({error})") from error
    array = np.asarray(picture)
    if array.ndim == 3:
        colour = array[..., :3].astype(np.int64)
        if np.all(colour == colour[..., :1]):
            array = array[..., 0]
        else:
            warnings.warn(f"{path}: colour image converted to grey (ITU-R 601 luma)", stacklevel=2)
            array = np.asarray(picture.convert("L"))
    if array.ndim != 2 or array.size == 0:
        raise InputError(path, f"expected a 2D greyscale image, found shape {array.shape}")
    metadata = {"source": str(path), "modality": "OT", "photometric_interpretation": "MONOCHROME2"}
    return Image(array=array.copy(), spacing_mm=spacing_mm, metadata=metadata)


def write_png(image: Image, path: str | os.PathLike[str]) -> Path:
    """Write a 2D image of integers 0–65535 as 8-bit (if it fits) or 16-bit greyscale PNG."""
    if image.ndim != 2:
        raise InputError(path, f"PNG holds 2D images only, this one has shape {image.shape}")
    array = np.asarray(image.array)
    if not np.issubdtype(array.dtype, np.integer) or array.min() < 0 or array.max() > 65535:
        raise InputError(path, "PNG needs integer pixel values in 0..65535; window the image first")
    array = array.astype(np.uint8 if array.max() <= 255 else np.uint16)
    with atomic_file(path) as temporary:
        PILImage.fromarray(array).save(temporary, format="PNG", compress_level=1)  # fast; label maps stay small
    return Path(path)
