"""DICOM Segmentation output (highdicom), referencing the source series it was computed on."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radiomark import __version__
from radiomark.errors import InputError
from radiomark.image import LabelMap
from radiomark.io.atomic import atomic_file


def _code(triple: Sequence[str]) -> Any:
    """A pydicom ``Code`` from a recipe's (scheme, value, meaning) triple."""
    from pydicom.sr.coding import Code

    scheme, value, meaning = triple
    return Code(value, scheme, meaning)


def write_dicom_seg(labels: LabelMap, path: str | os.PathLike[str],
                    codes: Mapping[str, tuple[Sequence[str], Sequence[str]]], algorithm: str) -> Path:
    """Write ``labels`` as a binary DICOM SEG, one segment per label, frames on the source slices.

    ``labels.metadata["files"]`` must list the source DICOM files in slice order (as the DICOM
    reader records them); ``codes`` maps each label name to its (category, type) codes, each a
    (scheme, value, meaning) triple, e.g. SNOMED CT.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes as codes_dict
    from pydicom.uid import generate_uid

    from radiomark.io.dicom import read_dataset
    from radiomark.outputs.overlay import label_colour

    files = list(labels.metadata.get("files") or [])
    planes = 1 if labels.ndim == 2 else labels.shape[0]
    if len(files) != planes:
        raise InputError(path, "a DICOM SEG needs DICOM input: the label map has no source DICOM slices "
                               f"({len(files)} file(s) for {planes} plane(s))")
    sources = [read_dataset(Path(f), stop_before_pixels=True) for f in files]
    missing = sorted(set(labels.labels.values()) - set(codes))
    if missing:
        raise InputError(path, f"no coded concept for {missing}; add them to the recipe's label_codes")
    algorithm_id = hd.AlgorithmIdentificationSequence(name=algorithm, version=__version__,
                                                      family=codes_dict.cid7162.ArtificialIntelligence)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=value, segment_label=name.replace("_", " "),
            segmented_property_category=_code(codes[name][0]), segmented_property_type=_code(codes[name][1]),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm_id,
            display_color=hd.color.CIELabColor.from_rgb(*label_colour(value)))
        for value, name in sorted(labels.labels.items())]
    array = np.asarray(labels.array, dtype=np.uint8).reshape(planes, *labels.shape[-2:])
    # A source with an empty SliceThickness (type 2) would give a SEG without it, which highdicom
    # itself cannot read back: the in-memory copies get the thickness radiomark used (1 mm when
    # unknown, as for NIfTI output). The input files are not touched.
    # A projection radiograph may have no spacing at all: it gets the same 1 mm.
    thickness = float(labels.metadata.get("slice_thickness_mm")
                      or (labels.require_spacing()[0] if labels.ndim == 3 else 1.0))
    for source in sources:
        if not source.get("SliceThickness"):
            source.SliceThickness = f"{thickness:.6g}"
    try:
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=array, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=900,
            sop_instance_uid=generate_uid(), instance_number=1, manufacturer="radiomark",
            manufacturer_model_name=algorithm, software_versions=__version__, device_serial_number="0",
            omit_empty_frames=False)
    except (AttributeError, ValueError, TypeError, KeyError) as error:  # highdicom refuses non-conformant sources
        raise InputError(path, f"cannot build a DICOM SEG from these source images ({type(error).__name__}: "
                               f"{error})") from error
    if "ImageOrientationPatient" not in sources[0]:  # a projection radiograph: PatientOrientation is Type 2C
        seg.PatientOrientation = sources[0].get("PatientOrientation", "")
    with atomic_file(path) as temporary:
        seg.save_as(temporary)
    return Path(path)
