"""Training / evaluation cases on disk and their conversion to network tensors.

Data layout (``DIR`` of ``train``/``evaluate``): every folder below ``DIR`` that holds a
``labels.nii.gz`` is one case. Its image is, in this order of preference, ``image.nii.gz``, another
``*.nii.gz`` file, the series under ``dicom/`` chosen by the recipe's series selector, or DICOM
files in the folder itself. The label map must lie on the image grid and use the recipe's label
values. Optional ``case.json`` gives ``patient_id``, ``sex``, ``height_m``, ``weight_kg`` (phantom
``truth.json`` files are read the same way). Without a patient id, the DICOM PatientID, else the
folder name, identifies the patient. A volume contributes each labelled axial slice as a sample.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image, LabelMap
from radiomark.io import read_image
from radiomark.io.nifti import read_nifti
from radiomark.recipes.schema import Recipe
from radiomark.transforms.intensity import to_unit_interval
from radiomark.transforms.spatial import canonical_flips, fitted_shape, flip, to_network_grid

LABELS_FILE = "labels.nii.gz"
#: Value padding takes outside a CT slice (HU of air).
AIR_HU = -1024.0
#: What ``case.json`` (or a phantom's ``truth.json``) may say about the patient.
CLINICAL_KEYS = ("patient_id", "sex", "height_m", "weight_kg")


@dataclass(frozen=True)
class Case:
    """One 2D sample: an image slice (HU), its labels and who it belongs to."""

    case_id: str
    patient_id: str
    image: Image
    labels: LabelMap
    clinical: dict[str, Any] = field(default_factory=dict)


def find_case_folders(data_dir: Path) -> list[Path]:
    """Folders under ``data_dir`` (itself included, symbolic links followed) that hold a ``labels.nii.gz``."""
    if not data_dir.is_dir():
        raise InputError(data_dir, "no such folder")
    folders = sorted(Path(root) for root, _, files in os.walk(data_dir, followlinks=True)
                     if LABELS_FILE in files and not Path(root).name.startswith("."))
    if not folders:
        raise InputError(data_dir, f"no case folders found (a case is a folder holding {LABELS_FILE})")
    return folders


def read_case_image(folder: Path, recipe: Recipe) -> Image:
    """The image of a case folder (see the module docstring for the order of preference)."""
    if (folder / "image.nii.gz").is_file():
        return read_image(folder / "image.nii.gz")
    others = sorted(p for p in folder.glob("*.nii*") if p.name != LABELS_FILE and not p.name.startswith("."))
    if others:
        return read_image(others[0])
    source = folder / "dicom" if (folder / "dicom").is_dir() else folder
    return read_image(source, select=recipe.series_selector)


def _clinical(folder: Path) -> dict[str, Any]:
    for name in ("case.json", "truth.json"):
        if (folder / name).is_file():
            try:
                document = json.loads((folder / name).read_text())
            except json.JSONDecodeError as error:
                raise InputError(folder / name, f"invalid JSON ({error})") from None
            merged = {**document, **document.get("clinical", {})}
            return {key: merged[key] for key in CLINICAL_KEYS if merged.get(key) is not None}
    return {}


def load_case_folder(folder: Path, recipe: Recipe) -> list[Case]:
    """The 2D samples of one case folder."""
    image = read_case_image(folder, recipe)
    labels = read_nifti(folder / LABELS_FILE, labels=recipe.labels)
    if not labels.geometry_equal(image, atol=1e-3):
        raise GeometryError(folder / LABELS_FILE, f"labels grid {labels.shape} does not match the image grid "
                                                  f"{image.shape} (or their spacing/origin/direction differ)")
    unknown = set(np.unique(labels.array).tolist()) - {0, *recipe.labels}
    if unknown:
        raise InputError(folder / LABELS_FILE, f"label values {sorted(unknown)} are not in the recipe "
                                               f"({recipe.labels})")
    clinical = _clinical(folder)
    patient = str(clinical.get("patient_id") or image.metadata.get("patient_id") or folder.name)
    if image.ndim == 2:
        return [Case(folder.name, patient, image, labels, clinical)]
    slices = [k for k in range(image.shape[0]) if labels.array[k].any()]
    return [Case(f"{folder.name}#{k}", patient, image.take_slice(k), labels.take_slice(k), clinical)
            for k in slices]


def load_cases(data_dir: str | Path, recipe: Recipe) -> list[Case]:
    """All samples under ``data_dir``."""
    return [case for folder in find_case_folders(Path(data_dir)) for case in load_case_folder(folder, recipe)]


def to_network_input(case: Case, recipe: Recipe) -> dict[str, torch.Tensor]:
    """Image ``[1, H, W]`` and one-hot target ``[labels, H, W]`` on the network grid (canonical
    orientation, uniform physical scaling, centre padding; see :mod:`radiomark.transforms.spatial`).

    A windowed recipe's image stays in HU (padded with air) so training can draw random windows;
    a percentile recipe's image is scaled to [0, 1] here (padded with 0).
    """
    size = recipe.preprocessing.spatial_size
    flips, fitted = canonical_flips(case.image), fitted_shape(case.image, size)
    values = np.asarray(case.image.array, dtype=np.float32)
    pad_value = AIR_HU
    if recipe.preprocessing.window is None:
        values, pad_value = to_unit_interval(values, recipe.preprocessing), 0.0
    image = torch.as_tensor(np.ascontiguousarray(flip(values, flips)))[None]
    labels = torch.as_tensor(np.ascontiguousarray(flip(np.asarray(case.labels.array, dtype=np.float32), flips)))[None]
    image = to_network_grid(image, fitted, size, mode="area", pad_value=pad_value)
    labels = to_network_grid(labels, fitted, size, mode="nearest", pad_value=0)
    target = torch.cat([(labels == value).float() for value in sorted(recipe.labels)])
    return {"image": torch.as_tensor(image), "label": torch.as_tensor(target)}
