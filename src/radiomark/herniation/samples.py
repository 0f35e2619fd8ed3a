"""Training and evaluation samples of ``disc-herniation``: the index joined with a labels table.

``labels.csv`` has one row per (patient, disc level): columns ``patient`` (the DICOM PatientID, as
in the index), ``disc_level`` (e.g. ``L4-L5``), ``herniation`` (1/0, yes/no, true/false) and,
optionally, any clinical column of the recipe (``age_years``, ``sex``, ``thecal_sac_width_mm``);
where a clinical column is absent, the index's DICOM value is used (PatientAge, PatientSex). A
sample is an image of a chosen series whose disc level has a label row.

The image the network sees (recipe ``image``): the slice cropped by fixed fractions of its rows and
columns, resized to ``size`` (area interpolation), min–max scaled to [0, 1] — the seed study's
preprocessing.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radiomark.errors import InputError
from radiomark.herniation.recipe import HerniationRecipe
from radiomark.herniation.tabular import tabular_vector
from radiomark.image import Image
from radiomark.io.series_rules import disc_level

_TRUE, _FALSE = {"1", "yes", "true", "y"}, {"0", "no", "false", "n"}


@dataclass(frozen=True)
class Sample:
    """One image at a disc level with its clinical vector (scaled) and label (1 herniation)."""

    patient: str
    level: str
    path: Path
    tabular: np.ndarray
    label: int


def _read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(path, "file not found")
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise InputError(path, f"missing column(s) {missing}; found {reader.fieldnames}")
        return list(reader)


def read_labels(path: str | os.PathLike[str], recipe: HerniationRecipe) -> dict[tuple[str, str], dict[str, str]]:
    """(patient, level) → the row, with ``herniation`` checked (1/0) and the level normalised."""
    source = Path(path)
    labels = {}
    for number, row in enumerate(_read_rows(source, ("patient", "disc_level", "herniation")), start=2):
        where = f"{source}, line {number}"
        level = disc_level(row["disc_level"])
        if level not in recipe.levels:
            raise InputError(where, f"disc level {row['disc_level']!r} is not one of {', '.join(recipe.levels)}")
        answer = row["herniation"].strip().lower()
        if answer not in _TRUE | _FALSE:
            raise InputError(where, f"herniation {row['herniation']!r} is not 1/0, yes/no or true/false")
        key = (row["patient"].strip(), level)
        if key in labels:
            raise InputError(where, f"a second label for patient {key[0]} at {level}")
        labels[key] = {**row, "disc_level": level, "herniation": "1" if answer in _TRUE else "0"}
    if not labels:
        raise InputError(source, "no label rows")
    return labels


def assemble_samples(index: str | os.PathLike[str], labels: str | os.PathLike[str],
                     recipe: HerniationRecipe) -> list[Sample]:
    """Samples of the chosen images in ``index`` (``radiomark index`` CSV) that ``labels`` labels."""
    table = read_labels(labels, recipe)
    samples = []
    for row in _read_rows(Path(index), ("patient", "chosen", "disc_level", "path", "patient_age_years",
                                        "patient_sex")):
        key = (row["patient"], row["disc_level"])
        if row["chosen"] != "True" or key not in table:
            continue
        label = table[key]
        values = {"age_years": row["patient_age_years"], "sex": row["patient_sex"], **label}
        values["disc_level"] = row["disc_level"]
        where = f"{labels} ({row['patient']} {row['disc_level']})"
        samples.append(Sample(row["patient"], row["disc_level"], Path(row["path"]),
                              tabular_vector(values, recipe, where), int(label["herniation"])))
    if not samples:
        raise InputError(index, f"no chosen image at a labelled disc level (labels: {labels}); run "
                                "`radiomark index` on the studies and check the patient ids")
    return samples


def image_input(image: Image, recipe: HerniationRecipe) -> np.ndarray:
    """``[1, rows, columns]`` float32 in [0, 1]: fixed-margin crop, resize, min–max (see module)."""
    from monai.transforms import Resize

    array = np.asarray(image.array, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise InputError(image.metadata.get("source"), f"expected one 2D slice, got shape {array.shape}")
    top, bottom, left, right = recipe.image.crop
    rows, columns = array.shape
    cropped = array[int(round(top * rows)):rows - int(round(bottom * rows)),
                    int(round(left * columns)):columns - int(round(right * columns))]
    resized = np.asarray(Resize(recipe.image.size, mode="area")(cropped[None]),  # type: ignore[arg-type]  # numpy in
                         dtype=np.float32)
    low, high = float(resized.min()), float(resized.max())
    return (resized - low) / (high - low) if high > low else np.zeros_like(resized)


def load_images(samples: list[Sample], recipe: HerniationRecipe,
                progress: Callable[[str, int, int], None] | None = None) -> np.ndarray:
    """The network inputs ``[N, 1, rows, columns]`` of ``samples`` (read from their DICOM files)."""
    from radiomark.io import read_image

    images = []
    for number, sample in enumerate(samples, start=1):
        images.append(image_input(read_image(sample.path), recipe))
        if progress is not None:
            progress("reading images", number, len(samples))
    return np.stack(images)
