"""Neuromelanin-sensitive MRI of two volunteers (Vano et al., Biol Psychiatry 2024) as ``nigra`` cases.

Expected source layout (the copy under ``../shared/data/mri-neuromelanin-kcl``):
``nifti_sub-<id>_anat_sub-<id>_NM.nii.gz`` (the NM image, 0.75 × 0.75 × 2.2 mm) and
``output_sub-<id>_anat_sub-<id>_midbrain_atlas_space-NM.nii.gz`` (2 = SN-VTA, the ROI; 1 = crus
cerebri, the reference region; on the NM grid).

The masks do not separate the sides. Each case's labels are split at the mid-sagittal plane
taken as the mean LPS x of all its ROI and reference voxels (both structures are bilateral and
near-symmetric): voxels at smaller x are the patient's right. The NM image becomes ``echo1.nii.gz``
(a single-image case: the first and only echo); there is no multi-echo or QSM data.

Licence: CC BY-NC 4.0 (non-commercial). Cases written here stay outside the repository.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from radiomark.errors import InputError
from radiomark.image import LabelMap
from radiomark.io.atomic import atomic_directory
from radiomark.io.nifti import read_nifti, write_nifti

LABELS = {1: "substantia_nigra_right", 2: "substantia_nigra_left", 3: "crus_cerebri_right", 4: "crus_cerebri_left"}
#: Source mask value -> (right, left) label values.
SOURCE_LABELS = {2: (1, 2), 1: (3, 4)}
LICENCE = "CC BY-NC 4.0 (Vano et al., Biol Psychiatry 2024)"
_SUBJECT = re.compile(r"nifti_(sub-[^_]+)_anat_\1_NM\.nii\.gz")


def split_sides(mask: LabelMap) -> LabelMap:
    """The source mask's SN-VTA and crus cerebri split into right and left at the midline (see
    the module docstring)."""
    array = np.asarray(mask.array)
    wanted = np.isin(array, list(SOURCE_LABELS))
    if not wanted.any():
        raise InputError(mask.metadata.get("source"), "the mask holds neither SN-VTA (2) nor crus cerebri (1)")
    indices = np.argwhere(np.ones(mask.shape, dtype=bool)).reshape(*mask.shape, mask.ndim)
    x = (np.asarray(mask.origin_mm)[0] + (indices * np.asarray(mask.spacing_mm)) @ mask.direction[0])
    right = x < x[wanted].mean()
    labels = np.zeros(mask.shape, dtype=np.uint8)
    for source, (right_value, left_value) in SOURCE_LABELS.items():
        labels[(array == source) & right] = right_value
        labels[(array == source) & ~right] = left_value
    return LabelMap.like(mask, labels, LABELS)


def import_kcl(source: str | os.PathLike[str], out: str | os.PathLike[str], progress: Callable[[int, int],
               None] | None = None) -> list[Path]:
    """Write one case folder per subject under ``out`` (``echo1.nii.gz``, ``labels.nii.gz``,
    ``case.json``); existing complete cases are kept."""
    source, out = Path(source), Path(out)
    images = sorted(p for p in source.glob("nifti_sub-*_NM.nii.gz") if _SUBJECT.fullmatch(p.name))
    if not images:
        raise InputError(source, "no nifti_sub-*_anat_sub-*_NM.nii.gz images found")
    written = []
    for index, path in enumerate(images):
        subject = _SUBJECT.fullmatch(path.name).group(1)  # type: ignore[union-attr]
        folder = out / f"kcl-{subject}"
        if not (folder / "case.json").is_file():
            mask_path = source / f"output_{subject}_anat_{subject}_midbrain_atlas_space-NM.nii.gz"
            image = read_nifti(path)
            stored = read_nifti(mask_path)  # float32 0 / 1 / 2 in the source
            values = np.asarray(stored.array)
            if not np.array_equal(values, np.round(values)) or values.min() < 0:
                raise InputError(mask_path, "the mask holds values other than whole labels")
            mask = LabelMap.like(stored, values.astype(np.uint8), {1: "crus_cerebri", 2: "sn_vta"})
            if not mask.geometry_equal(image, atol=1e-3):
                raise InputError(mask_path, f"mask grid {mask.shape} differs from the NM image grid {image.shape}")
            with atomic_directory(folder) as temporary:
                write_nifti(image, temporary / "echo1.nii.gz")
                write_nifti(split_sides(mask), temporary / "labels.nii.gz")
                (temporary / "case.json").write_text(json.dumps(
                    {"patient_id": subject, "source": str(path), "labels_source": str(mask_path),
                     "licence": LICENCE}, indent=1))
        written.append(folder)
        if progress is not None:
            progress(index + 1, len(images))
    return written
