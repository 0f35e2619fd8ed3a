"""DICOM discovery, checking and reading with pydicom (multi-frame geometry with highdicom).

:func:`scan_dicom` reads headers only: it groups image files by SeriesInstanceUID (and by
EchoTime when one series holds several echoes), orders slices along the slice normal
(ImageOrientationPatient row × column cosines) and lists the problems it finds.
:func:`read_dicom_series` then decodes the pixels (compressed syntaxes through the pylibjpeg
plugins), applies the modality LUT (RescaleSlope/Intercept: CT in HU) and MONOCHROME1
inversion, and returns an :class:`~radiomark.image.Image` whose slice axis increases along
the slice normal — the order SimpleITK's ImageSeriesReader produces.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from radiomark.errors import DicomError, GeometryError, InputError, RadiomarkError
from radiomark.image import Image, Orientation, orientation_from_normal
from radiomark.io.limits import check_size

#: Cross-sectional modalities whose images are useless without PixelSpacing.
SPACING_REQUIRED_MODALITIES = frozenset({"CT", "MR", "PT", "NM"})
#: Slice positions closer than this (mm) are the same position.
DUPLICATE_TOLERANCE_MM = 1e-3
#: A gap this many times the typical step means slices are missing.
MISSING_SLICE_FACTOR = 1.5
#: Steps may differ from the typical step by this much (mm, or this fraction of it if larger).
UNEVEN_TOLERANCE_MM, UNEVEN_TOLERANCE_FRACTION = 0.01, 0.01

ProgressCallback = Callable[[int, int], None]


class ProblemKind(StrEnum):
    """What can be wrong with a series' geometry."""

    MISSING_SLICES = "missing slices"
    UNEVEN_SPACING = "uneven spacing"
    DUPLICATE_SLICES = "duplicate slices"
    MIXED_ORIENTATIONS = "mixed orientations"
    MIXED_SIZES = "mixed sizes"
    NO_SPACING = "no spacing"
    NO_POSITION = "no position"


@dataclass(frozen=True)
class Problem:
    """A problem found in a series, with the file that shows it."""

    kind: ProblemKind
    message: str
    path: Path

    def error(self) -> GeometryError:
        """The exception that reading the series raises for this problem."""
        return GeometryError(self.path, f"{self.kind}: {self.message}")


@dataclass(frozen=True)
class DicomFile:
    """Header facts of one DICOM image file (positions in LPS mm)."""

    path: Path
    sop_instance_uid: str
    instance_number: int | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    rows: int
    columns: int
    frames: int


#: SeriesDescription patterns of the CT contrast phases, searched in this order ("contrast": enhanced,
#: phase not named).
CONTRAST_PHASES = {
    "non_contrast": r"non[ _-]?con|nativ|unenhanc|w/?o\b|without|\bnc\b|plain|\bpre\b",
    "arterial": r"arter|\bart\b|early|angio|\bcta\b",
    "portal_venous": r"portal|venous|\bpv\b|\bpvp\b|\bven\b",
    "delayed": r"delay|\blate\b|excret|urogra|nephrogr",
    "contrast": r"contrast|\bc\+|enhanced|\bkm\b|\bcect\b",
}


@dataclass(frozen=True)
class DicomSeries:
    """One series (one echo of it, for multi-echo series) as found by :func:`scan_dicom`.

    ``files`` are in slice order along the normal when the geometry allows it, else in
    InstanceNumber order. ``pixel_spacing_mm`` is (row, column) spacing; ``slice_spacing_mm``
    the distance between slice centres.
    """

    patient_id: str
    study_uid: str
    series_uid: str
    modality: str
    description: str
    echo_time_ms: float | None
    repetition_time_ms: float | None
    pixel_spacing_mm: tuple[float, float] | None
    slice_spacing_mm: float | None
    orientation: Orientation | None
    files: tuple[DicomFile, ...]
    problems: tuple[Problem, ...]
    #: ImageType values (``ORIGINAL``, ``PRIMARY``, ``DERIVED``, ``LOCALIZER``, ...), upper case.
    image_type: tuple[str, ...] = ()
    slice_thickness_mm: float | None = None
    #: ConvolutionKernel (CT reconstruction kernel), several values joined by ``\\``.
    kernel: str = ""
    body_part: str = ""
    #: ContrastBolusAgent; empty when no contrast is recorded.
    contrast_agent: str = ""

    @property
    def contrast_phase(self) -> str:
        """The CT contrast phase: ``non_contrast``, ``arterial``, ``portal_venous``, ``delayed`` or
        ``contrast`` (enhanced, phase not named) by the first :data:`CONTRAST_PHASES` pattern the
        SeriesDescription matches (sites name series freely), else ``contrast`` when
        ContrastBolusAgent is recorded, else ``unknown``."""
        for phase, pattern in CONTRAST_PHASES.items():
            if re.search(pattern, self.description, flags=re.IGNORECASE):
                return phase
        return "contrast" if self.contrast_agent.strip() else "unknown"

    @property
    def n_slices(self) -> int:
        """Number of image planes (frames of a multi-frame object count one each)."""
        return sum(f.frames for f in self.files)

    @property
    def size(self) -> tuple[int, int]:
        """(rows, columns) of the first image."""
        return self.files[0].rows, self.files[0].columns

    @property
    def folder(self) -> Path:
        """The folder that holds all the series' files."""
        return Path(os.path.commonpath([f.path.parent for f in self.files]))

    @property
    def is_multiframe(self) -> bool:
        """Whether the series is a multi-frame object."""
        return any(f.frames > 1 for f in self.files)


def _float_tuple(value: Any, length: int) -> tuple[float, ...] | None:
    try:
        result = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return result if len(result) == length and all(np.isfinite(result)) else None


def _pixel_spacing(header: Dataset) -> tuple[float, float] | None:
    """PixelSpacing, else ImagerPixelSpacing (CR/DX), else the enhanced objects' shared group."""
    candidates = [header.get("PixelSpacing"), header.get("ImagerPixelSpacing")]
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        group = header.get(groups)
        if group and "PixelMeasuresSequence" in group[0]:
            candidates.append(group[0].PixelMeasuresSequence[0].get("PixelSpacing"))
    for value in candidates:
        spacing = _float_tuple(value, 2) if value is not None else None
        if spacing is not None and min(spacing) > 0:
            return spacing  # type: ignore[return-value]
    return None


def _optional_float(header: Dataset, keyword: str) -> float | None:
    """The tag's value as one finite number, or None when it is absent, empty or not a number."""
    value = header.get(keyword)
    try:
        number = None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None
    return number if number is not None and np.isfinite(number) else None


def _dicom_file(path: Path, header: Dataset) -> DicomFile:
    orientation = _float_tuple(header.get("ImageOrientationPatient"), 6)
    shared = header.get("SharedFunctionalGroupsSequence")
    if orientation is None and shared and "PlaneOrientationSequence" in shared[0]:
        orientation = _float_tuple(shared[0].PlaneOrientationSequence[0].get("ImageOrientationPatient"), 6)
    instance = header.get("InstanceNumber")
    return DicomFile(path=path, sop_instance_uid=str(header.get("SOPInstanceUID", "")),
                     instance_number=None if instance in (None, "") else int(instance),
                     position=_float_tuple(header.get("ImagePositionPatient"), 3),  # type: ignore[arg-type]
                     orientation=orientation, rows=int(header.Rows), columns=int(header.Columns),
                     frames=int(header.get("NumberOfFrames") or 1))


def _normal(orientation: Sequence[float]) -> np.ndarray:
    row, column = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    return np.cross(row, column)


def _by_instance(files: Iterable[DicomFile]) -> list[DicomFile]:
    return sorted(files, key=lambda f: (f.instance_number is None, f.instance_number or 0, str(f.path)))


def _order_and_check(files: list[DicomFile], modality: str, pixel_spacing: tuple[float, float] | None,
                     ) -> tuple[list[DicomFile], float | None, Orientation | None, list[Problem]]:
    """Order slices along the normal and list geometry problems (see :class:`ProblemKind`)."""
    problems: list[Problem] = []
    first = files[0]
    if pixel_spacing is None and modality in SPACING_REQUIRED_MODALITIES:
        problems.append(Problem(ProblemKind.NO_SPACING, f"{modality} image without PixelSpacing", first.path))
    if len({(f.rows, f.columns) for f in files}) > 1:
        sizes = sorted({f"{f.rows}x{f.columns}" for f in files})
        problems.append(Problem(ProblemKind.MIXED_SIZES, f"images of different sizes {sizes}", first.path))
    orientations = {tuple(np.round(f.orientation, 4)) for f in files if f.orientation is not None}
    orientation = orientation_from_normal(_normal(first.orientation)) if first.orientation else None
    if len(files) == 1:
        return files, None, orientation, problems
    if any(f.frames > 1 for f in files):
        problems.append(Problem(ProblemKind.MIXED_SIZES, "several multi-frame objects in one series", first.path))
        return _by_instance(files), None, orientation, problems
    missing = [f for f in files if f.position is None or f.orientation is None]
    if missing:
        problems.append(Problem(ProblemKind.NO_POSITION,
                                "ImagePositionPatient or ImageOrientationPatient missing", missing[0].path))
        return _by_instance(files), None, orientation, problems
    if len(orientations) > 1:
        problems.append(Problem(ProblemKind.MIXED_ORIENTATIONS,
                                f"{len(orientations)} different ImageOrientationPatient values in one series",
                                first.path))
        return _by_instance(files), None, orientation, problems
    normal = _normal(first.orientation)  # type: ignore[arg-type]
    ordered = sorted(files, key=lambda f: float(np.dot(f.position, normal)))  # type: ignore[arg-type]
    distances = np.array([np.dot(f.position, normal) for f in ordered])  # type: ignore[arg-type]
    steps = np.diff(distances)
    duplicates = np.flatnonzero(steps < DUPLICATE_TOLERANCE_MM)
    if duplicates.size:
        i = int(duplicates[0])
        problems.append(Problem(ProblemKind.DUPLICATE_SLICES,
                                f"{ordered[i].path.name} and {ordered[i + 1].path.name} share the slice position "
                                f"{distances[i]:.3f} mm ({duplicates.size} duplicate(s))", ordered[i + 1].path))
        return ordered, None, orientation, problems
    typical = float(np.median(steps))
    gaps = np.flatnonzero(steps > MISSING_SLICE_FACTOR * typical)
    if gaps.size:
        i = int(gaps[0])
        count = int(round(steps[i] / typical)) - 1
        problems.append(Problem(ProblemKind.MISSING_SLICES,
                                f"gap of {steps[i]:.2f} mm between {ordered[i].path.name} and "
                                f"{ordered[i + 1].path.name} where slices are {typical:.2f} mm apart "
                                f"(about {count} slice(s) missing)", ordered[i + 1].path))
    elif np.max(np.abs(steps - typical)) > max(UNEVEN_TOLERANCE_MM, UNEVEN_TOLERANCE_FRACTION * typical):
        i = int(np.argmax(np.abs(steps - typical)))
        problems.append(Problem(ProblemKind.UNEVEN_SPACING,
                                f"slice steps range from {steps.min():.3f} to {steps.max():.3f} mm "
                                f"(at {ordered[i + 1].path.name})", ordered[i + 1].path))
    spacing = float((distances[-1] - distances[0]) / (len(ordered) - 1))
    return ordered, spacing, orientation, problems


def _multiframe_spacing(path: Path, header: Dataset) -> tuple[float | None, list[Problem]]:
    import highdicom as hd

    try:
        geometry = hd.Image.from_dataset(header, copy=False).get_volume_geometry()
    except Exception as error:  # highdicom reports irregular frames in several ways
        geometry, reason = None, str(error)
    else:
        reason = "frames do not form a regular volume"
    if geometry is None:
        return None, [Problem(ProblemKind.NO_POSITION, f"multi-frame object: {reason}", path)]
    return float(geometry.spacing[0]), []


def _series(members: list[tuple[Path, Dataset]]) -> DicomSeries:
    path, header = members[0]
    modality = str(header.get("Modality", "OT"))
    pixel_spacing = _pixel_spacing(header)
    files = [_dicom_file(p, h) for p, h in members]
    ordered, slice_spacing, orientation, problems = _order_and_check(files, modality, pixel_spacing)
    if len(files) == 1 and files[0].frames > 1:
        slice_spacing, frame_problems = _multiframe_spacing(path, header)
        problems.extend(frame_problems)
    return DicomSeries(
        patient_id=str(header.get("PatientID", "")), study_uid=str(header.get("StudyInstanceUID", "")),
        series_uid=str(header.get("SeriesInstanceUID", "")), modality=modality,
        description=str(header.get("SeriesDescription", "")),
        echo_time_ms=_optional_float(header, "EchoTime"),
        repetition_time_ms=_optional_float(header, "RepetitionTime"),
        pixel_spacing_mm=pixel_spacing, slice_spacing_mm=slice_spacing, orientation=orientation,
        files=tuple(ordered), problems=tuple(problems),
        image_type=tuple(str(v).strip().upper() for v in _values(header.get("ImageType"))),
        slice_thickness_mm=_optional_float(header, "SliceThickness"),
        kernel="\\".join(str(v) for v in _values(header.get("ConvolutionKernel"))),
        body_part=str(header.get("BodyPartExamined", "") or ""),
        contrast_agent=str(header.get("ContrastBolusAgent", "") or ""))


def _values(value: Any) -> list[Any]:
    """A DICOM value as a list (pydicom gives a single value or a MultiValue; ``None`` when absent)."""
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str | int | float) else list(value)


def _candidate_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(path, "no such file or folder")
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))


class _CappedReader(io.BufferedReader):
    """A file whose reads never ask for more bytes than remain.

    A damaged length field can claim gigabytes; Python allocates what ``read(n)`` asks for before
    it finds the end of the file, so pydicom must not see such requests.
    """

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(0, os.fstat(self.fileno()).st_size - self.tell()))
        return super().read(size)


def read_dataset(path: Path, stop_before_pixels: bool = False) -> Dataset:
    """``pydicom.dcmread`` through a reader that caps every read at the bytes left in the file.

    A file without the 128-byte preamble and ``DICM`` marker (older writers, ACR-NEMA style) is
    read anyway, with a warning, when it parses to an object with SOP class and instance UIDs; its
    transfer syntax is the one pydicom recognised. Anything else is :class:`InvalidDicomError`.
    """
    with _CappedReader(io.FileIO(path, "r")) as stream:
        try:
            return pydicom.dcmread(stream, stop_before_pixels=stop_before_pixels)
        except InvalidDicomError:
            stream.seek(0)
            dataset = pydicom.dcmread(stream, stop_before_pixels=stop_before_pixels, force=True)
    if not all(str(dataset.get(keyword, "")).replace(".", "").isdigit() for keyword in ("SOPClassUID",
                                                                                          "SOPInstanceUID")):
        raise InvalidDicomError(f"{path}: no DICOM preamble and no SOP UIDs")
    if "TransferSyntaxUID" not in dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if dataset.is_implicit_VR else
                                               ExplicitVRLittleEndian if dataset.is_little_endian else
                                               ExplicitVRBigEndian)
    warnings.warn(f"{path}: no DICOM preamble / file meta header; read as "
                  f"{dataset.file_meta.TransferSyntaxUID.name}", stacklevel=2)
    return dataset


#: Identifying attributes a report may show when the user asks to keep them (name -> DICOM keyword).
IDENTIFYING_TAGS = {"patient_name": "PatientName", "patient_id": "PatientID", "birth_date": "PatientBirthDate",
                    "study_date": "StudyDate", "accession_number": "AccessionNumber",
                    "study_description": "StudyDescription", "institution": "InstitutionName"}
#: Header tags radiomark reads; pydicom parses values lazily, so they are all parsed at scan time.
USED_TAGS = ("SOPInstanceUID", "SOPClassUID", "SeriesInstanceUID", "StudyInstanceUID", "PatientID", "PatientSex",
             "PatientAge", "PatientSize", "PatientWeight", "Modality", "SeriesDescription", "EchoTime",
             "RepetitionTime", "InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
             "ImagerPixelSpacing", "SliceThickness", "SpacingBetweenSlices", "FrameOfReferenceUID", "Rows",
             "Columns", "NumberOfFrames", "PhotometricInterpretation", "BitsStored", "PixelRepresentation",
             "SharedFunctionalGroupsSequence", "ImageType", "ConvolutionKernel", "BodyPartExamined",
             "ContrastBolusAgent", *IDENTIFYING_TAGS.values())


def _touch_used_tags(path: Path, header: Dataset) -> None:
    """Parse the tags radiomark uses; a damaged value becomes a :class:`DicomError` here."""
    try:
        for keyword in USED_TAGS:
            header.get(keyword)
        if "Rows" in header and "Columns" in header:
            _dicom_file(path, header)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # damaged values surface as many exception types
        raise DicomError(path, f"damaged DICOM header ({type(error).__name__}: {error})") from error


def age_in_years(text: str) -> float | None:
    """Years from a DICOM age string (VR AS) such as ``"054Y"``, ``"018M"``, ``"003W"`` or ``"010D"``;
    ``None`` when empty or malformed."""
    text = (text or "").strip().upper()
    if len(text) != 4 or not text[:3].isdigit() or text[3] not in "DWMY":
        return None
    return int(text[:3]) / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[text[3]]


def _read_header(path: Path) -> Dataset | None:
    """One file's header, ``None`` if it is not DICOM; :class:`DicomError` if it is damaged."""
    try:
        return read_dataset(path, stop_before_pixels=True)
    except InvalidDicomError:
        return None
    except Exception as error:  # pydicom raises many types on damaged headers
        raise DicomError(path, f"damaged DICOM header ({type(error).__name__}: {error})") from error


def scan_dicom(path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> list[DicomSeries]:
    """Find the DICOM image series under ``path`` (a file or a folder, searched recursively).

    Non-DICOM files and non-image objects (reports, DICOMDIR) are skipped in a folder; a single
    file that is not a DICOM image is an error. Raises :class:`InputError` when nothing is found.
    """
    root = Path(path)
    candidates = _candidate_files(root)
    groups: dict[str, list[tuple[Path, Dataset]]] = defaultdict(list)
    damaged: list[str] = []
    for index, candidate in enumerate(candidates):
        if progress is not None:
            progress(index + 1, len(candidates))
        try:
            header = _read_header(candidate)
            if header is not None:
                _touch_used_tags(candidate, header)
        except DicomError as error:
            if root.is_file():
                raise
            damaged.append(str(error))
            continue
        if header is None:
            if root.is_file():
                raise DicomError(candidate, "not a DICOM file (no 'DICM' marker after the 128-byte preamble)")
            continue
        if "Rows" not in header or "Columns" not in header:
            if root.is_file():
                kind = getattr(header.get("SOPClassUID"), "name", "unknown SOP class")
                raise DicomError(candidate, f"no image in this DICOM object ({kind}, no Rows/Columns)")
            continue
        try:
            check_size(candidate, (int(header.get("NumberOfFrames") or 1), int(header.Rows), int(header.Columns)))
        except (InputError, TypeError, ValueError) as error:
            problem = error.problem if isinstance(error, InputError) else f"unreadable image size ({error})"
            if root.is_file():
                raise DicomError(candidate, problem) from None
            damaged.append(str(DicomError(candidate, problem)))
            continue
        groups[str(header.get("SeriesInstanceUID", candidate))].append((candidate, header))
    for message in damaged:
        warnings.warn(f"skipped {message}", stacklevel=2)
    if not groups:
        what = "is empty" if not candidates else f"holds no DICOM images ({len(candidates)} file(s) looked at)"
        raise InputError(root, f"folder {what}" if root.is_dir() else what)
    series: list[DicomSeries] = []
    for members in groups.values():
        echoes: dict[float | None, list[tuple[Path, Dataset]]] = defaultdict(list)
        for member in members:
            echoes[_optional_float(member[1], "EchoTime")].append(member)
        for echo_members in (echoes.values() if len(echoes) > 1 else [members]):
            series.append(_series(echo_members))
    return sorted(series, key=lambda s: (s.patient_id, s.study_uid, str(s.folder), s.echo_time_ms or 0.0,
                                         s.series_uid))


def _invert_monochrome1(stored: np.ndarray, header: Dataset) -> np.ndarray:
    """Map MONOCHROME1 stored values onto MONOCHROME2 within the stored bit range."""
    bits = int(header.get("BitsStored", stored.dtype.itemsize * 8))
    if int(header.get("PixelRepresentation", 0)) == 1:
        return -1 - stored.astype(np.int64)
    return (2**bits - 1) - stored.astype(np.int64)


def _check_pixel_representation(path: Path, dataset: Dataset, stored: np.ndarray) -> None:
    """Refuse CT whose PixelRepresentation (unsigned) contradicts its values: stored values at or
    above 2^15 in a 16-bit CT would be above about 31,000 HU — signed values written as unsigned."""
    if (dataset.get("Modality") != "CT" or dataset.get("PixelRepresentation") != 0
            or dataset.get("BitsStored") != 16):
        return
    share = float(np.mean(stored >= 2**15))
    if share > 0.01:
        raise DicomError(path, f"PixelRepresentation says unsigned, but {100 * share:.0f} % of the stored values are "
                               "≥ 32768 (above ~31,000 HU): the data look signed; fix PixelRepresentation (0028,0103)")


def _decode(path: Path, dataset: Dataset) -> np.ndarray:
    if dataset.file_meta.get("TransferSyntaxUID") == RLELossless:
        # pydicom's own RLE decoder reports damaged data as an exception; the Rust plugin panics.
        dataset.pixel_array_options(decoding_plugin="pydicom")
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError(path, f"a colour image ({photometric}); radiomark reads greyscale (MONOCHROME1/2) images")
    stored = dataset.pixel_array
    if stored.ndim != 2:
        raise DicomError(path, f"expected one greyscale frame, decoded shape {stored.shape} "
                               f"({dataset.get('PhotometricInterpretation')})")
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if keyword in dataset and _optional_float(dataset, keyword) is None:
            raise DicomError(path, f"{keyword} {dataset.get(keyword)!r} is not a number")
    if "RescaleSlope" in dataset and _optional_float(dataset, "RescaleSlope") == 0:
        raise DicomError(path, "RescaleSlope is 0: every pixel would get the same value (the modality LUT is "
                               "unusable)")
    _check_pixel_representation(path, dataset, stored)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        stored = _invert_monochrome1(stored, dataset)
    return apply_modality_lut(stored, dataset)


def decode_pixels(path: Path) -> tuple[np.ndarray, Dataset]:
    """Decoded values of one single-frame image file after modality LUT and MONOCHROME1 inversion."""
    try:
        dataset = read_dataset(path)
    except Exception as error:  # pydicom raises many types on damaged files
        raise DicomError(path, f"damaged DICOM file ({type(error).__name__}: {error})") from error
    try:
        return _decode(path, dataset), dataset
    except (RadiomarkError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # decoders and lazily parsed tags raise many types; the Rust decoders
        # (pylibjpeg-rle) panic with pyo3's PanicException, which derives from BaseException
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        name = getattr(syntax, "name", "unknown transfer syntax")
        raise DicomError(path, f"cannot decode the pixel data ({name}): {type(error).__name__}: {error}") from error


def _compact(values: np.ndarray) -> np.ndarray:
    """Integers in the smallest of int16/int32 that holds them, other values as float32."""
    if np.issubdtype(values.dtype, np.integer) and values.dtype.itemsize <= 2:
        return values
    if np.all(np.isfinite(values)) and np.array_equal(values, np.round(values)):
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if values.min() >= info.min and values.max() <= info.max:
                return values.astype(dtype)
    return values.astype(np.float32)


def _metadata(series: DicomSeries, header: Dataset) -> dict[str, Any]:
    height = _optional_float(header, "PatientSize")
    return {
        "source": str(series.folder if len(series.files) > 1 else series.files[0].path),
        "modality": series.modality, "patient_id": series.patient_id,
        "patient_sex": str(header.get("PatientSex", "")), "patient_age": str(header.get("PatientAge", "")),
        "patient_height_m": height, "patient_weight_kg": _optional_float(header, "PatientWeight"),
        "study_uid": series.study_uid, "series_uid": series.series_uid,
        "series_description": series.description, "body_part": str(header.get("BodyPartExamined", "") or ""),
        "frame_of_reference_uid": str(header.get("FrameOfReferenceUID", "")),
        "slice_thickness_mm": (_optional_float(header, "SpacingBetweenSlices")
                               or _optional_float(header, "SliceThickness")),
        "echo_time_ms": series.echo_time_ms, "repetition_time_ms": series.repetition_time_ms,
        "photometric_interpretation": str(header.get("PhotometricInterpretation", "")),
        "sop_instance_uids": [f.sop_instance_uid for f in series.files],
        "files": [str(f.path) for f in series.files],
        "identifiers": {name: str(header.get(keyword, "") or "") for name, keyword in IDENTIFYING_TAGS.items()},
    }


def _read_multiframe(series: DicomSeries) -> Image:
    import highdicom as hd

    path = series.files[0].path
    try:
        volume = hd.Image.from_dataset(read_dataset(path), copy=False).get_volume()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # irregular or damaged frames; Rust decoders panic (see decode_pixels)
        raise DicomError(path, f"cannot read the multi-frame object as a volume ({error})") from error
    array, direction = np.asarray(volume.array), np.array(volume.direction, dtype=float)
    origin = np.asarray(volume.position, dtype=float)
    normal = np.cross(direction[:, 2], direction[:, 1])
    if float(direction[:, 0] @ normal) < 0:  # make the slice axis run along the plane normal
        origin = origin + direction[:, 0] * volume.spacing[0] * (array.shape[0] - 1)
        array, direction[:, 0] = array[::-1], -direction[:, 0]
    header = read_dataset(path, stop_before_pixels=True)
    metadata = _metadata(series, header)
    return Image(array=_compact(array), spacing_mm=tuple(volume.spacing), origin_mm=tuple(origin),
                 direction=direction, metadata=metadata)


def read_dicom_series(series: DicomSeries) -> Image:
    """Decode ``series`` into an :class:`Image` (2D for a single image, else 3D).

    Raises :class:`GeometryError` for the first problem :func:`scan_dicom` found and
    :class:`DicomError` for pixel data that cannot be decoded.
    """
    if series.problems:
        raise series.problems[0].error()
    if series.is_multiframe:
        return _read_multiframe(series)
    planes = [decode_pixels(f.path) for f in series.files]
    header = planes[0][1]
    metadata = _metadata(series, header)
    array = _compact(np.stack([values for values, _ in planes]))
    first = series.files[0]
    if len(series.files) == 1:
        if first.orientation is None:
            return Image(array=array[0], spacing_mm=series.pixel_spacing_mm, metadata=metadata)
        row, column = np.asarray(first.orientation[:3]), np.asarray(first.orientation[3:])
        return Image(array=array[0], spacing_mm=series.pixel_spacing_mm, origin_mm=first.position or (0, 0, 0),
                     direction=np.column_stack([column, row]), metadata=metadata)
    row, column = np.asarray(first.orientation[:3]), np.asarray(first.orientation[3:])  # type: ignore[index]
    spacing = (None if series.pixel_spacing_mm is None
               else (series.slice_spacing_mm, *series.pixel_spacing_mm))
    return Image(array=array, spacing_mm=spacing,  # type: ignore[arg-type]
                 origin_mm=first.position,  # type: ignore[arg-type]
                 direction=np.column_stack([np.cross(row, column), column, row]), metadata=metadata)
