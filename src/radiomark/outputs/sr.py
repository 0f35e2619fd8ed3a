"""DICOM Structured Report output: a TID 1500 measurement report (highdicom) whose measurements are
coded, carry UCUM units, and point at the segment of the DICOM SEG they were measured on.

Every measurement group also has an outline on a key image (a second planar group with the same
tracking identifier): viewers that draw SR measurements, OHIF among them, need coordinates and
stop on a group that has none."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radiomark import __version__
from radiomark.biomarkers.measurement import Measurement
from radiomark.errors import InputError
from radiomark.io.atomic import atomic_file

#: radiomark's own coding scheme for measurements that have no standard code (DICOM PS3.16 8.2
#: allows private schemes whose designator starts with "99").
PRIVATE_SCHEME = "99RADIOMARK"
#: CodeMeaning of UCUM units whose code reads badly where viewers show the meaning (DICOM PS3.16 CID 7181).
UNIT_MEANINGS = {"[hnsf'U]": "Hounsfield unit", "1": "no units"}
#: The most characters a DICOM Code Value (SH) holds.
CODE_VALUE_LENGTH = 16


def sr_codes(measurements: Mapping[str, Measurement], declared: Mapping[str, str]) -> dict[str, str]:
    """A code value per measurement, unique within the report: the recipe's ``declared`` code,
    else the name itself when it fits in 16 characters, else its first 10 characters, a hyphen
    and 5 hex digits of the name's SHA-1 (deterministic). Two measurements that would share a
    code are an error."""
    import hashlib
    from collections import Counter

    codes = {}
    for name in measurements:
        code = declared.get(name) or (name if len(name) <= CODE_VALUE_LENGTH else
                                      f"{name[:10]}-{hashlib.sha1(name.encode()).hexdigest()[:5]}")
        if len(code) > CODE_VALUE_LENGTH:
            raise InputError(None, f"SR code {code!r} of {name} is longer than {CODE_VALUE_LENGTH} characters")
        codes[name] = code
    shared = sorted(code for code, count in Counter(codes.values()).items() if count > 1)
    if shared:
        raise InputError(None, f"DICOM SR code values repeat within one report: {', '.join(shared)}")
    return codes


def _concept(value: str, scheme: str, meaning: str) -> Any:
    import highdicom as hd

    return hd.sr.CodedConcept(value=value, scheme_designator=scheme, meaning=meaning[:64])


def _measurement(measurement: Measurement, code: str) -> Any:
    import highdicom as hd

    name = _concept(code, PRIVATE_SCHEME, measurement.name.replace("_", " "))
    unit = _concept(str(measurement.unit), "UCUM", UNIT_MEANINGS.get(str(measurement.unit), str(measurement.unit)))
    return hd.sr.Measurement(name=name, value=measurement.value, unit=unit)


def _procedure(modality: str) -> Any:
    """The LOINC procedure code of a report on images of ``modality`` (body region unspecified)."""
    from pydicom.sr.codedict import codes

    procedures = {"CT": codes.LN.CTUnspecifiedBodyRegion, "MR": codes.LN.MRIUnspecifiedBodyRegion,
                  "CR": codes.LN.XRUnspecifiedBodyRegion, "DX": codes.LN.XRUnspecifiedBodyRegion}
    if modality not in procedures:
        raise InputError(None, f"no DICOM SR procedure code for modality {modality!r}")
    return procedures[modality]


def write_dicom_sr(measurements: Mapping[str, Measurement], code_values: Mapping[str, str],
                   segmentation_path: str | os.PathLike[str], source_files: Sequence[str],
                   segment_numbers: Mapping[str, int], label_array: np.ndarray, path: str | os.PathLike[str],
                   algorithm: str) -> Path:
    """Write the measurements as a Comprehensive 3D SR next to their DICOM SEG.

    ``code_values``: each measurement's code value (:func:`sr_codes`). ``source_files`` are the images the
    SEG was made on (they are part of the SR's evidence); errors name the first of them.

    Measurements of a structure (``measurement.structure``) form one ROI group referencing that
    segment — planar for a single-slice SEG, volumetric (the whole segment) for a volume; the
    others (ratios, measures over several structures) form a group of their own. A volumetric
    group names the source series once instead of every source image again (the evidence lists
    the images; listing them per structure took 1 s of a 160-slice head CT's SR).

    ``label_array`` holds the label values of the SEG, one plane per source file in the same order
    (rows × columns each): it gives each group's key-image outline (:func:`_key_outline`).
    """
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    from radiomark.io.dicom import read_dataset

    segmentation = pydicom.dcmread(segmentation_path)
    # The first source image gives the patient and study; the others (read whole when the study
    # was loaded) only their references.
    evidence = [segmentation, *(read_dataset(Path(f), stop_before_pixels=True) for f in source_files[:1]),
                *(pydicom.dcmread(f, stop_before_pixels=True, specific_tags=_REFERENCE_TAGS)
                  for f in source_files[1:])]
    planes = np.asarray(label_array).reshape(len(source_files), *np.shape(label_array)[-2:])
    groups: list[Any] = []
    by_structure: dict[str | None, list[Measurement]] = {}
    for measurement in measurements.values():
        by_structure.setdefault(measurement.structure, []).append(measurement)
    try:
        for structure, members in by_structure.items():
            tracking_uid, identifier = generate_uid(), structure or "whole slice"
            tracking = hd.sr.TrackingIdentifier(uid=tracking_uid, identifier=identifier)
            items = [_measurement(m, code_values[m.name]) for m in members]
            plane, points = _key_outline(planes, segment_numbers.get(structure or "", 0))
            source = evidence[1 + plane]
            groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid, identifier=identifier),
                referenced_region=hd.sr.ImageRegion(
                    graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=points,
                    source_image=hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID))))
            if structure is None:
                groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(tracking_identifier=tracking,
                                                                          measurements=items))
                continue
            if len(source_files) == 1:
                segment = hd.sr.ReferencedSegmentationFrame.from_segmentation(
                    segmentation, segment_number=segment_numbers[structure])
                groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking, referenced_segment=segment, measurements=items))
            else:
                volume = hd.sr.ReferencedSegment(
                    segmentation.SOPClassUID, segmentation.SOPInstanceUID, segment_numbers[structure],
                    source_series=hd.sr.SourceSeriesForSegmentation(evidence[1].SeriesInstanceUID))
                groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking, referenced_segment=volume, measurements=items))
        device = hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=generate_uid(), name=algorithm, manufacturer_name="radiomark", model_name=__version__))
        context = hd.sr.ObservationContext(observer_device_context=device)
        report = hd.sr.MeasurementReport(observation_context=context, imaging_measurements=groups,
                                         procedure_reported=_procedure(evidence[1].get("Modality", "")))
        document = hd.sr.Comprehensive3DSR(evidence=evidence, content=report, series_instance_uid=generate_uid(),
                                           series_number=901, sop_instance_uid=generate_uid(), instance_number=1,
                                           manufacturer="radiomark", is_complete=True)
    except (AttributeError, ValueError, TypeError, KeyError) as error:  # highdicom validates as it builds
        where = source_files[0] if source_files else path
        raise InputError(where, f"cannot build the DICOM SR ({type(error).__name__}: {error})") from error
    _conform_image_references(document, segmentation.SOPClassUID)
    with atomic_file(path) as temporary:
        document.save_as(temporary)
    return Path(path)


def _key_outline(planes: np.ndarray, value: int) -> tuple[int, np.ndarray]:
    """(plane index, closed polyline) outlining label ``value`` on the plane where it is largest:
    the longest boundary of its pixels, as (column, row) image coordinates with (0, 0) the outer
    corner of the first pixel (DICOM SCOORD). Value 0 (measures over several structures) outlines
    every labelled pixel; with nothing labelled, the border of the middle plane."""
    from skimage.measure import find_contours

    inside = planes == value if value else planes > 0
    counts = np.count_nonzero(inside, axis=(1, 2))
    if not counts.any():
        rows, columns = planes.shape[1:]
        corners = [(0, 0), (columns, 0), (columns, rows), (0, rows), (0, 0)]
        return len(planes) // 2, np.asarray(corners, dtype=np.float32)
    plane = int(np.argmax(counts))
    longest = max(find_contours(np.pad(inside[plane], 1).astype(np.float32), 0.5), key=len)
    # find_contours gives (row, column) in pixel-centre indices of the padded mask; SCOORD puts the
    # centre of pixel (r, c) at (c + 0.5, r + 0.5): minus the pad of 1, plus half a pixel.
    return plane, np.round(longest[:, ::-1] - 0.5, 2).astype(np.float32)


#: What the SR's evidence needs of each source image but the first.
_REFERENCE_TAGS = ["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"]


def _conform_image_references(dataset: Any, segmentation_class: str) -> None:
    """Drop two attributes highdicom writes against the standard (flagged by dciodvfy):
    ReferencedSegmentNumber beside ReferencedFrameNumber in a segmentation-frame reference (the
    frame already names its segment), and ReferencedFrameNumber in references to single-frame
    source images."""
    for element in dataset:
        if element.VR != "SQ":
            continue
        for item in element.value:
            if "ReferencedSOPClassUID" in item and "ReferencedFrameNumber" in item:
                if item.ReferencedSOPClassUID == segmentation_class:
                    if "ReferencedSegmentNumber" in item:
                        del item.ReferencedSegmentNumber
                elif int(item.get("NumberOfFrames", 1) or 1) == 1:
                    del item.ReferencedFrameNumber
            _conform_image_references(item, segmentation_class)


def segment_numbers(labels: Mapping[int, str]) -> dict[str, int]:
    """Segment number of each structure in radiomark's DICOM SEG (the label value)."""
    return {name: value for value, name in labels.items()}


__all__: Sequence[str] = ["PRIVATE_SCHEME", "segment_numbers", "sr_codes", "write_dicom_sr"]
