"""A DICOM lumbar study made from the real 3D T2 lumbar MRI in ``../shared/data/mri-lumbar-t2``
(Spinal Cord Toolbox tutorial data, MIT; 1 mm isotropic, 38 mm left–right field of view).

Two series are written, as a scanner console would store them: ``T2 AX reformat`` — one true axial
slice through the centre of each of three discs, each with its real position and its level in
ImageComments — and ``T2 SAG reformat``, the five central sagittal slices. No EchoTime or
RepetitionTime is written (the NIfTI keeps none): the index must fall back on the descriptions.

The disc centres (SI slice indices 102, 69 and 36 of the NIfTI) were read by eye on the
mid-sagittal slice, where the discs are the bright bands between the vertebral bodies. The file
has no sacrum in view, so the level names count vertebral bodies up from the heights of the
bodies (about 33 mm lumbar, 25–28 mm thoracic): **an assumption, not a reading**. The slices are
true axial, not angled along each disc, so a tilted disc is cut obliquely.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.io import read_image
from radiomark.io.atomic import atomic_directory
from radiomark.io.dicom_write import DicomSeriesSpec, write_dicom_series
from radiomark.phantoms.case import make_study

#: Disc level → SI slice index of its centre in t2_lumbar.nii.gz (see the module docstring).
DISC_SLICES = {"L1-L2": 102, "L2-L3": 69, "L3-L4": 36}
SOURCE = "t2_lumbar.nii.gz"


def write_real_lumbar_study(source: str | os.PathLike[str], out: str | os.PathLike[str],
                            patient_id: str = "SCT-T2-LUMBAR") -> Path:
    """Write the two reformatted series of ``source`` (the folder holding ``t2_lumbar.nii.gz``)
    as one DICOM study in ``out``; returns ``out``."""
    path = Path(source) / SOURCE
    if not path.is_file():
        raise InputError(path, "not found: the real lumbar MRI is in ../shared/data/mri-lumbar-t2")
    volume = read_image(path)
    if volume.ndim != 3 or int(np.argmax(np.abs(volume.direction[:, 0]))) != 2:
        raise InputError(path, "expected a volume whose first array axis runs head–foot")
    study = replace(make_study("sct-t2-lumbar", patient_sex="O"), patient_id=patient_id)
    array = np.asarray(volume.array)
    values = np.clip(array, 0, None).astype(np.uint16)
    slices = list(DISC_SLICES.values())
    # Axial slices as viewers expect them: anterior at the top, the patient's right on the left.
    last_row, last_column = array.shape[1] - 1, array.shape[2] - 1
    positions = [volume.index_to_point((k, last_row, last_column)) for k in slices]
    direction = volume.direction * np.array([1.0, -1.0, -1.0])
    if not np.allclose(direction[:, 1:], [[0, 1], [1, 0], [0, 0]], atol=1e-6):
        raise InputError(path, "expected rows running front–back and columns left–right")
    axial = Image(array=np.ascontiguousarray(values[slices][:, ::-1, ::-1]), spacing_mm=volume.spacing_mm,
                  origin_mm=tuple(positions[0]), direction=direction, metadata={"modality": "MR"})
    per_slice = tuple({"ImageComments": level, "ImagePositionPatient": [f"{p:.6g}" for p in position]}
                      for level, position in zip(DISC_SLICES, positions, strict=True))
    middle = array.shape[2] // 2  # sagittal: array axes (left-right, head-foot, front-back)
    sagittal = Image(array=np.ascontiguousarray(np.transpose(values, (2, 0, 1))[middle - 2:middle + 3]),
                     spacing_mm=tuple(volume.require_spacing()[i] for i in (2, 0, 1)),
                     origin_mm=tuple(volume.index_to_point((0, 0, middle - 2))),
                     direction=volume.direction[:, [2, 0, 1]], metadata={"modality": "MR"})
    with atomic_directory(out) as folder:
        write_dicom_series(axial, folder / "t2_axial", study,
                           DicomSeriesSpec("MR", "T2 AX reformat", 3, extra={"ScanningSequence": "SE"},
                                           per_slice=per_slice), "sct-lumbar/axial")
        write_dicom_series(sagittal, folder / "t2_sagittal", study,
                           DicomSeriesSpec("MR", "T2 SAG reformat", 2, extra={"ScanningSequence": "SE"}),
                           "sct-lumbar/sagittal")
    return Path(out)
