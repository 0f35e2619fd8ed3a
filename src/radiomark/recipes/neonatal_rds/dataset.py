"""JSRT chest radiographs with the SCR lung masks, as radiomark ``neonatal-rds`` cases.

Expected source layout (the copy under ``../shared/data/cxr-jsrt``): ``images/<name>.png``
(512 × 512, 8-bit) and ``masks/{right_lung,left_lung}/<name>.png`` (0 / 255, same grid). Each
image is its own patient. The JSRT guide gives 2048 × 2048 pixels of 0.175 mm, so the 512 × 512
copies have 0.7 mm pixels. Masks use the patient's sides (``left`` = image right).

Licence: JSRT research / education use, redistribution restricted; SCR masks research use. Cases
written here stay outside the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from radiomark.errors import InputError
from radiomark.image import LabelMap
from radiomark.io.atomic import atomic_directory
from radiomark.io.nifti import write_nifti
from radiomark.io.raster import read_raster

#: Pixel size of the JSRT films (0.175 mm) scaled to the 512 × 512 copies.
PIXEL_MM = 0.175 * 2048 / 512
LABELS = {1: "right_lung", 2: "left_lung"}
LICENCE = "JSRT: research/education use, redistribution restricted; SCR masks: research use"


def import_jsrt(source: str | os.PathLike[str], out: str | os.PathLike[str], progress: Callable[[int, int],
                None] | None = None,
                limit: int | None = None) -> list[Path]:
    """Write one case folder per JSRT image under ``out`` (``image.nii.gz``, ``labels.nii.gz``,
    ``case.json``); existing complete cases are kept. ``limit`` takes the first N images by name."""
    source, out = Path(source), Path(out)
    images = sorted((source / "images").glob("*.png"))[:limit]
    if not images:
        raise InputError(source / "images", "no JSRT PNG images found")
    written = []
    for index, path in enumerate(images):
        folder = out / path.stem
        if not (folder / "case.json").is_file():
            image = replace(read_raster(path), spacing_mm=(PIXEL_MM, PIXEL_MM))
            labels = np.zeros(image.shape, dtype=np.uint8)
            for value, name in LABELS.items():
                mask_path = source / "masks" / name / path.name
                mask = read_raster(mask_path).array
                if mask.shape != image.shape:
                    raise InputError(mask_path, f"mask shape {mask.shape} differs from the image's {image.shape}")
                labels[mask > 127] = value
            with atomic_directory(folder) as temporary:
                write_nifti(image, temporary / "image.nii.gz")
                write_nifti(LabelMap.like(image, labels, LABELS), temporary / "labels.nii.gz")
                (temporary / "case.json").write_text(json.dumps(
                    {"patient_id": path.stem, "source": str(path), "licence": LICENCE}, indent=1))
        written.append(folder)
        if progress is not None:
            progress(index + 1, len(images))
    return written
