"""A synthetic case with exact ground truth, and how it is written to disk.

Layout of a written case ``OUTDIR/<case_id>/``:

* ``dicom/<series>/IM0001.dcm ...`` (``--format dicom``), or ``<series>.nii.gz`` (``nifti``), or
  ``<series>.png`` (``png``, 2D radiographs only);
* ``labels.nii.gz`` — the ground-truth label map on the grid of the first series (uint8);
* ``truth.json`` — recipe, seed, clinical data, label names and the biomarker values the masks
  imply, with units in the key names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.io.atomic import atomic_directory
from radiomark.io.dicom_write import DicomSeriesSpec, DicomStudy, write_dicom_series
from radiomark.io.nifti import write_nifti
from radiomark.io.raster import write_png


class PhantomFormat(StrEnum):
    """File formats a phantom case can be written in."""

    DICOM = "dicom"
    NIFTI = "nifti"
    PNG = "png"


@dataclass(frozen=True)
class PhantomSeries:
    """One image of a case and how it is stored as DICOM."""

    name: str
    image: Image
    spec: DicomSeriesSpec


@dataclass(frozen=True)
class PhantomCase:
    """A deterministic synthetic case: images, ground-truth labels and biomarker truth."""

    recipe: str
    case_id: str
    seed: int
    study: DicomStudy
    series: tuple[PhantomSeries, ...]
    labels: LabelMap
    truth: Mapping[str, Any]
    clinical: Mapping[str, Any] = field(default_factory=dict)
    data_kind: str = "synthetic phantom"

    @property
    def image(self) -> Image:
        """The primary image (the first series), on whose grid ``labels`` lie."""
        return self.series[0].image

    def truth_document(self) -> dict[str, Any]:
        """What ``truth.json`` holds."""
        return {"recipe": str(self.recipe), "case_id": self.case_id, "seed": self.seed,
                "data_kind": self.data_kind, "clinical": dict(self.clinical),
                "labels": {str(k): v for k, v in self.labels.labels.items()},
                "series": [s.name for s in self.series], "truth": dict(self.truth)}


def make_study(case_id: str, **attributes: Any) -> DicomStudy:
    """Patient and study attributes of a case, with a study UID derived from ``case_id``."""
    from pydicom.uid import generate_uid

    return DicomStudy(patient_id=f"PHANTOM-{case_id}", study_uid=str(generate_uid(entropy_srcs=[case_id, "study"])),
                      **attributes)


def write_case(case: PhantomCase, outdir: str | os.PathLike[str], fmt: PhantomFormat | str) -> Path:
    """Write ``case`` into ``outdir/<case_id>`` atomically (see the module docstring)."""
    fmt = PhantomFormat(fmt)
    target = Path(outdir) / case.case_id
    if fmt is PhantomFormat.PNG and any(s.image.ndim != 2 for s in case.series):
        raise InputError(target, f"--format png holds 2D radiographs only; use dicom or nifti for {case.recipe}")
    if fmt is PhantomFormat.PNG and case.image.metadata.get("modality") != "DX":
        raise InputError(target, f"--format png would lose the physical values of {case.recipe}; "
                                 "use dicom or nifti")
    with atomic_directory(target) as folder:
        for index, item in enumerate(case.series):
            if fmt is PhantomFormat.DICOM:
                write_dicom_series(item.image, folder / "dicom" / item.name, case.study, item.spec,
                                   uid_seed=f"{case.recipe}/{case.seed}/{index}")
            elif fmt is PhantomFormat.NIFTI:
                write_nifti(item.image, folder / f"{item.name}.nii.gz")
            else:
                write_png(item.image, folder / f"{item.name}.png")
        write_nifti(case.labels, folder / "labels.nii.gz")
        (folder / "truth.json").write_text(json.dumps(case.truth_document(), indent=2) + "\n")
    return target
