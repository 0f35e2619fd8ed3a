"""Image-level classification after segmentation: what the classifier sees, and its data on disk.

Data layout (``DIR`` of ``train --stage classify`` and of classifier evaluation): one subfolder
per class, named as the recipe's ``classifier.classes``; every image file (PNG, JPEG, DICOM,
NIfTI) below a class folder is one sample. The patient of a sample is the first group of
``patient_pattern`` searched in the file name when given (e.g. ``^(person\\d+)`` for the Kermany
set), else the file's path below the data folder (each image its own patient — say so in results).

Classifier input (recipe ``classifier.input``), on the recipe's [0, 1] intensity scale:
``whole`` — the image; ``crop`` — the bounding box of the segmented structures, widened by
``crop_margin`` of its size on each side; ``masked`` — that crop with pixels outside the
structures set to 0. The result is resized (area interpolation) to ``classifier.spatial_size``,
not aspect-preserving, as the seed study resized to 512 × 512.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.recipes.schema import Classifier, Recipe
from radiomark.transforms.intensity import to_unit_interval
from radiomark.transforms.spatial import resize

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".nii", ".nii.gz")

#: The folder of a model folder that holds its image classifier (weights, recipe, metrics).
CLASSIFIER_DIR = "classifier"


@dataclass(frozen=True)
class LabelledImage:
    """One classification sample on disk: its file, class index (0 negative, 1 positive), patient."""

    path: Path
    label: int
    patient_id: str


def find_labelled_images(data_dir: str | os.PathLike[str], classes: tuple[str, str],
                         patient_pattern: str | None = None) -> list[LabelledImage]:
    """The samples under ``data_dir/<class>/`` for both ``classes`` (see the module docstring)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(root, "no such folder")
    missing = [name for name in classes if not (root / name).is_dir()]
    if missing:
        raise InputError(root, f"missing class folder(s) {missing}; expected one folder per class {list(classes)}")
    pattern = re.compile(patient_pattern) if patient_pattern else None
    samples = []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*")
                       if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES) and not p.name.startswith("."))
        if not files:
            raise InputError(root / name, "no image files (PNG, JPEG, DICOM, NIfTI) in this class folder")
        for path in files:
            patient = f"{name}/{path.relative_to(root / name).as_posix()}"
            if pattern is not None:
                match = pattern.search(path.name)
                if match is None:
                    raise InputError(path, f"file name does not match the patient pattern {patient_pattern!r}")
                patient = match.group(1) if match.groups() else match.group(0)
            samples.append(LabelledImage(path, label, patient))
    return samples


def classifier_input(image: Image, structures: LabelMap | None, recipe: Recipe) -> np.ndarray:
    """The classifier's view of a 2D ``image``: ``[1, rows, columns]`` float32 in [0, 1]."""
    spec = recipe.classifier
    if spec is None:
        raise InputError(None, f"recipe {recipe.name} has no classifier")
    if image.ndim != 2:
        raise InputError(image.metadata.get("source"), f"the classifier needs a 2D image, got shape {image.shape}")
    unit = to_unit_interval(image.array, recipe.preprocessing)
    if spec.input != "whole":
        if structures is None:
            raise InputError(image.metadata.get("source"), f"classifier input {spec.input!r} needs a segmentation")
        mask = np.asarray(structures.array) > 0
        if mask.any():
            rows, columns = np.nonzero(mask)
            box = []
            for low, high, size in ((rows.min(), rows.max(), mask.shape[0]), (columns.min(), columns.max(),
                                                                                 mask.shape[1])):
                margin = int(round(spec.crop_margin * (high - low + 1)))
                box.append(slice(max(0, low - margin), min(size, high + margin + 1)))
            if spec.input == "masked":
                unit = np.where(mask, unit, 0.0).astype(np.float32)
            unit = unit[box[0], box[1]]
    return resize(unit[None], spec.spatial_size, "area")


def split_samples(samples: Sequence[LabelledImage], spec: Classifier, where: str | os.PathLike[str],
                  ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Labels, patients and the (train, validation) indices of ``samples``: grouped by patient,
    stratified by class (both classes are needed; ``where`` names the data in the error)."""
    from radiomark.training.splits import stratified_patient_split

    labels = np.asarray([sample.label for sample in samples])
    if len(set(labels.tolist())) < 2:
        raise InputError(where, "training needs images of both classes")
    patients = [sample.patient_id for sample in samples]
    train, validation = stratified_patient_split(patients, labels, spec.validation_fraction, spec.seed)
    return labels, patients, train, validation
