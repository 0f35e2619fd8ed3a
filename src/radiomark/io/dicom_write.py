"""Writing an :class:`~radiomark.image.Image` as a DICOM series (pydicom), used by the phantoms.

Single-frame CT, MR, DX or secondary-capture objects in Explicit VR Little Endian, one file per
slice, with deterministic UIDs derived from ``uid_seed``. The geometry tags (ImagePositionPatient,
ImageOrientationPatient, PixelSpacing / ImagerPixelSpacing) are written so that
:func:`radiomark.io.dicom.read_dicom_series` reads back the same grid and values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image

SOP_CLASSES = {"CT": CTImageStorage, "MR": MRImageStorage, "DX": DigitalXRayImageStorageForPresentation}


@dataclass(frozen=True)
class DicomStudy:
    """Patient and study attributes shared by the series of one case."""

    patient_id: str
    study_uid: str
    patient_sex: str = "O"
    patient_age_years: int | None = None
    patient_height_m: float | None = None
    patient_weight_kg: float | None = None
    study_date: str = "20260101"


@dataclass(frozen=True)
class DicomSeriesSpec:
    """How to store one series: modality, description, value scaling and extra tags.

    Values are stored as ``round((value - intercept) / slope)``; choose ``slope`` and
    ``intercept`` so that the image's values are reproduced exactly (CT: slope 1, intercept -1024).
    ``per_slice`` holds extra tags for each slice (one mapping per slice, first slice first).
    """

    modality: str
    description: str
    series_number: int
    slope: float = 1.0
    intercept: float = 0.0
    monochrome1: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    per_slice: Sequence[Mapping[str, Any]] = ()


def _stored_values(image: Image, spec: DicomSeriesSpec, where: Path) -> tuple[np.ndarray, bool]:
    stored = np.round((np.asarray(image.array, dtype=np.float64) - spec.intercept) / spec.slope)
    signed = bool(stored.min() < 0)
    info = np.iinfo(np.int16 if signed else np.uint16)
    if stored.min() < info.min or stored.max() > info.max:
        raise InputError(where, f"values {image.array.min()}..{image.array.max()} do not fit 16 bits with slope "
                                f"{spec.slope} and intercept {spec.intercept}")
    if spec.monochrome1:
        if signed:
            raise InputError(where, "MONOCHROME1 output needs non-negative stored values")
        stored = info.max - stored
    return stored.astype(np.int16 if signed else np.uint16), signed


def _base_dataset(study: DicomStudy, spec: DicomSeriesSpec, series_uid: str, frame_uid: str) -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.PatientName = study.patient_id, f"{study.patient_id}^"  # a single-component name
    ds.PatientBirthDate = ""
    ds.PatientSex = study.patient_sex
    if study.patient_age_years is not None:
        ds.PatientAge = f"{study.patient_age_years:03d}Y"
    if study.patient_height_m is not None:
        ds.PatientSize = f"{study.patient_height_m:.2f}"
    if study.patient_weight_kg is not None:
        ds.PatientWeight = f"{study.patient_weight_kg:.1f}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study.study_uid, series_uid, frame_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
    ds.Modality, ds.SeriesDescription, ds.SeriesNumber = spec.modality, spec.description, spec.series_number
    ds.Manufacturer = "radiomark phantom"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"] if spec.modality == "CT" else ["DERIVED", "SECONDARY"]
    ds.PositionReferenceIndicator, ds.AcquisitionNumber = "", 1
    if spec.modality in ("CT", "MR"):
        ds.PatientPosition = "HFS"
    if spec.modality == "MR":
        ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "GR", "NONE", ""
        ds.MRAcquisitionType, ds.EchoTrainLength, ds.Laterality = "3D", 1, ""
        ds.EchoTime = ds.RepetitionTime = ""  # type 2: empty unless the series gives them (extra)
    for keyword, value in spec.extra.items():
        setattr(ds, keyword, value)
    return ds


def write_dicom_series(image: Image, folder: str | os.PathLike[str], study: DicomStudy,
                       spec: DicomSeriesSpec, uid_seed: str) -> list[Path]:
    """Write ``image`` as a series of single-frame files ``IM0001.dcm ...`` into ``folder``.

    A volume's slice axis must run along the plane normal (row × column direction), as
    :func:`~radiomark.io.dicom.read_dicom_series` returns it.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    spacing = image.require_spacing()
    volume = image.as_volume()
    if volume.ndim == 3 and image.ndim == 3 and not np.allclose(volume.direction[:, 0], image.normal, atol=1e-6):
        raise GeometryError(out, "the slice axis must run along the plane normal to be written as DICOM")
    stored, signed = _stored_values(volume, spec, out)
    if spec.per_slice and len(spec.per_slice) != volume.shape[0]:
        raise InputError(out, f"{len(spec.per_slice)} per-slice tag sets for {volume.shape[0]} slices")
    series_uid = generate_uid(entropy_srcs=[uid_seed, "series"])
    frame_uid = generate_uid(entropy_srcs=[uid_seed, "frame"])
    sop_class = SOP_CLASSES.get(spec.modality, SecondaryCaptureImageStorage)
    row_cosines, column_cosines = volume.direction[:, 2], volume.direction[:, 1]
    pixel_spacing = [f"{s:.10g}" for s in spacing[-2:]]
    paths = []
    for index in range(volume.shape[0]):
        ds = _base_dataset(study, spec, series_uid, frame_uid)
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[uid_seed, "instance", str(index)])
        ds.InstanceNumber = index + 1
        if spec.modality == "DX":
            ds.ImagerPixelSpacing = pixel_spacing
            ds.PresentationIntentType, ds.PatientOrientation = "FOR PRESENTATION", ["L", "F"]
            chest = Dataset()
            chest.CodeValue, chest.CodingSchemeDesignator, chest.CodeMeaning = "51185008", "SCT", "Chest"
            ds.ImageLaterality, ds.AnatomicRegionSequence = "U", [chest]
            ds.PresentationLUTShape = "INVERSE" if spec.monochrome1 else "IDENTITY"
            ds.LossyImageCompression, ds.BurnedInAnnotation = "00", "NO"
            ds.DetectorType, ds.PositionerType, ds.AcquisitionContextSequence = "", "", []
            low, high = float(stored[index].min()), float(stored[index].max())
            ds.WindowCenter, ds.WindowWidth = f"{(low + high) / 2:.10g}", f"{max(high - low, 1.0):.10g}"
            # Stored values rise with attenuation (less beam intensity) unless stored as MONOCHROME1.
            ds.PixelIntensityRelationship = "LIN"
            ds.PixelIntensityRelationshipSign = 1 if spec.monochrome1 else -1
        else:
            position = np.asarray(volume.origin_mm) + volume.direction[:, 0] * volume.require_spacing()[0] * index
            ds.ImagePositionPatient = [f"{p:.10g}" for p in position]
            ds.ImageOrientationPatient = [f"{c:.10g}" for c in (*row_cosines, *column_cosines)]
            ds.PixelSpacing = pixel_spacing
            ds.SliceThickness = ds.SpacingBetweenSlices = f"{volume.require_spacing()[0]:.10g}"
            ds.SliceLocation = f"{float(position @ image.normal):.10g}"
        for keyword, value in (spec.per_slice[index] if spec.per_slice else {}).items():
            setattr(ds, keyword, value)  # last: may replace the computed position of a slice
        if spec.slope != 1.0 or spec.intercept != 0.0 or spec.modality in ("CT", "DX"):
            ds.RescaleSlope, ds.RescaleIntercept = f"{spec.slope:.10g}", f"{spec.intercept:.10g}"
            ds.RescaleType = "HU" if spec.modality == "CT" else "US"
        ds.set_pixel_data(stored[index], "MONOCHROME1" if spec.monochrome1 else "MONOCHROME2", 16,
                          generate_instance_uid=False)
        ds.PixelRepresentation = int(signed)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = sop_class, ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = out / f"IM{index + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
