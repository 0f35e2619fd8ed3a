"""Training / evaluation cases on disk and their conversion to network tensors.

Data layout (``DIR`` of ``train``/``evaluate``): every folder below ``DIR`` that holds a
label file — ``labels.nii.gz``, a DICOM SEG ``labels.dcm``, or a Slice-O-Matic ``.tag`` file
(``--labels VALUE=NAME,...`` maps its values) — is one case. Its images are read by
:func:`radiomark.io.study.read_study`:
``image.nii.gz`` or another ``*.nii.gz`` file (``echo1.nii.gz``, ``echo2.nii.gz``, ... for
multi-echo recipes, ``qsm.nii.gz`` beside them), else the series under ``dicom/`` (or DICOM files
in the folder itself) chosen by the recipe's series selector. The label map must lie on the grid
of the first image and use the recipe's label values. Optional ``case.json`` gives
``patient_id``, ``sex``, ``height_m``, ``weight_kg`` (phantom ``truth.json`` files are read the
same way). Without a patient id, the DICOM PatientID, else the folder name, identifies the
patient. For a 2D recipe a volume contributes each labelled axial slice as a sample; for a 3D
recipe each case is one volume.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.io.label_files import read_labels
from radiomark.io.study import LABELS_FILE, StudyImages, read_study
from radiomark.recipes.schema import Recipe
from radiomark.transforms import volume
from radiomark.transforms.network_input import network_slice, network_slice_target

#: What ``case.json`` (or a phantom's ``truth.json``) may say about the patient.
CLINICAL_KEYS = ("patient_id", "sex", "height_m", "weight_kg")


@dataclass(frozen=True)
class Case:
    """One sample: a study's images (a 2D slice, or a volume for 3D recipes; CT in HU), the
    labels on the grid of its first image, and who it belongs to."""

    case_id: str
    patient_id: str
    study: StudyImages
    labels: LabelMap
    clinical: dict[str, Any] = field(default_factory=dict)

    @property
    def image(self) -> Image:
        """The first image, on whose grid the labels lie."""
        return self.study.image


#: Label files a case folder may hold besides ``labels.nii.gz``: a DICOM SEG, a Slice-O-Matic TAG
#: file (``labels.tag``, or one ``*.tag`` beside the DICOM slice it was drawn on).
OTHER_LABEL_FILES = ("labels.dcm", "labels.tag")


def label_file(folder: Path, files: list[str]) -> Path | None:
    """The label file of a case folder (see :data:`OTHER_LABEL_FILES`), or None."""
    for name in (LABELS_FILE, *OTHER_LABEL_FILES):
        if name in files:
            return folder / name
    tags = [name for name in files if name.lower().endswith(".tag")]
    if len(tags) > 1:
        raise InputError(folder, f"{len(tags)} .tag files in one case folder; keep one (or name it labels.tag)")
    return folder / tags[0] if tags else None


def find_case_folders(data_dir: Path) -> list[Path]:
    """Folders under ``data_dir`` (itself included, symbolic links followed) that hold a label file."""
    if not data_dir.is_dir():
        raise InputError(data_dir, "no such folder")
    folders = sorted(Path(root) for root, _, files in os.walk(data_dir, followlinks=True)
                     if not Path(root).name.startswith(".") and label_file(Path(root), files) is not None)
    if not folders:
        raise InputError(data_dir, f"no case folders found (a case is a folder holding {LABELS_FILE}, a DICOM SEG "
                                   "labels.dcm or a Slice-O-Matic .tag file)")
    return folders


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


def load_case_folder(folder: Path, recipe: Recipe, label_mapping: str | None = None) -> list[Case]:
    """The samples of one case folder: its volume (3D recipe) or its labelled slices (2D).
    ``label_mapping`` (``VALUE=NAME,...``) translates the label file's values (see
    :func:`radiomark.io.label_files.read_labels`)."""
    study = read_study(folder, recipe)
    image = study.image
    path = label_file(folder, [p.name for p in folder.iterdir()])
    assert path is not None  # find_case_folders chose the folder for it
    labels = read_labels(path, image, recipe.labels, label_mapping)
    clinical = _clinical(folder)
    patient = str(clinical.get("patient_id") or image.metadata.get("patient_id") or folder.name)
    if image.ndim == 2 or recipe.preprocessing.spatial_dims == 3:
        return [Case(folder.name, patient, study, labels, clinical)]
    slices = [k for k in range(image.shape[0]) if labels.array[k].any()]
    return [Case(f"{folder.name}#{k}", patient, StudyImages((image.take_slice(k),)), labels.take_slice(k), clinical)
            for k in slices]


def load_cases(data_dir: str | os.PathLike[str], recipe: Recipe, label_mapping: str | None = None) -> list[Case]:
    """All samples under ``data_dir``."""
    return [case for folder in find_case_folders(Path(data_dir))
            for case in load_case_folder(folder, recipe, label_mapping)]


def to_network_input(case: Case, recipe: Recipe) -> dict[str, torch.Tensor]:
    """A training sample on the network grid (see :func:`to_network_slice`, :func:`to_network_volume`)."""
    if recipe.preprocessing.spatial_dims == 3:
        return to_network_volume(case, recipe)
    return to_network_slice(case, recipe)


def to_network_volume(case: Case, recipe: Recipe) -> dict[str, torch.Tensor]:
    """Image ``[channels, D, H, W]`` and one-hot target ``[labels, D, H, W]`` on the recipe's
    LPS-aligned network grid at its target spacing (see :mod:`radiomark.transforms.volume`)."""
    spacing = recipe.preprocessing.target_spacing_mm
    if spacing is None:
        raise InputError(None, f"recipe {recipe.name}: target_spacing_mm is not planned yet")
    reference = volume.network_grid(case.image, spacing)
    image = volume.channels_on_grid(case.study.channels, recipe.preprocessing, reference)
    labels = volume.to_network_grid(case.labels, reference, linear=False)
    target = np.stack([labels == value for value in sorted(recipe.labels)]).astype(np.float32)
    return {"image": torch.from_numpy(image), "label": torch.from_numpy(target)}


def to_network_slice(case: Case, recipe: Recipe) -> dict[str, torch.Tensor]:
    """Image ``[1, H, W]`` and one-hot target ``[labels, H, W]`` on the network grid (canonical
    orientation, uniform physical scaling, centre padding; see :mod:`radiomark.transforms.spatial`).

    A windowed recipe's image stays in HU (padded with air) so training can draw random windows;
    a percentile recipe's image is scaled to [0, 1] here (padded with 0).
    """
    spec = recipe.preprocessing
    image = network_slice(case.image, spec, keep_hu=spec.window is not None)[0]
    target = network_slice_target(case.labels, spec, sorted(recipe.labels))
    return {"image": torch.from_numpy(image), "label": torch.from_numpy(target)}
