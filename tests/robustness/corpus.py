"""A corpus of bad and awkward inputs, generated in code, each with its expected outcome.

``OK`` means the file must read into a valid image; otherwise the named error class must be
raised with a message that names the file and contains the given fragment.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image as PILImage

from radiomark.errors import DicomError, GeometryError, InputError, RadiomarkError
from radiomark.phantoms import generate_case, write_case
from tests.helpers import edit_dicom, pydicom_file

OK = None


@dataclass(frozen=True)
class Item:
    """One corpus input: where it is, what must happen, and which file the message must name."""

    name: str
    path: Path
    error: type[RadiomarkError] | None
    fragment: str = ""


def _copy(name: str, folder: Path, target: str | None = None, **tags: object) -> Path:
    """pydicom's test file ``name`` copied to ``folder/target`` with ``tags`` edited (None removes one)."""
    path = folder / (target or name)
    shutil.copy(pydicom_file(name), path)
    if tags:
        edit_dicom(path, **tags)
    return path


def _series(folder: Path, name: str, change: Callable[[Path], None]) -> Path:
    """A 40-slice phantom head CT series, changed by ``change``."""
    root = write_case(generate_case("brain-gwr", 0), folder / f".{name}", "dicom") / "dicom" / "ct_head"
    target = folder / name
    shutil.move(str(root), target)
    shutil.rmtree(folder / f".{name}")
    change(target)
    return target


def _nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), path)
    return path


def build_corpus(folder: Path) -> list[Item]:
    """Write every corpus input under ``folder`` and return them with their expected outcomes."""
    folder.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []

    def add(name: str, path: Path, error: type[RadiomarkError] | None, fragment: str = "") -> None:
        items.append(Item(name, path, error, fragment))

    # Damaged files.
    truncated = folder / "truncated.dcm"
    truncated.write_bytes(pydicom_file("CT_small.dcm").read_bytes()[:3000])
    add("truncated file", truncated, DicomError)
    add("truncated pixel data", _copy("MR_truncated.dcm", folder), DicomError, "cannot decode the pixel data")
    text = folder / "notes.dcm"
    text.write_text("this is a text file named .dcm")
    add("non-DICOM named .dcm", text, DicomError, "not a DICOM file")
    empty = folder / "empty.dcm"
    empty.write_bytes(b"")
    add("zero-byte .dcm", empty, DicomError, "not a DICOM file")
    # Missing tags.
    add("missing PixelSpacing", _series(folder, "no_spacing", lambda s: [edit_dicom(p, PixelSpacing=None)
                                                                         for p in s.iterdir()]),
        GeometryError, "no spacing")
    add("missing ImagePositionPatient",
        _series(folder, "no_position", lambda s: edit_dicom(s / "IM0007.dcm", ImagePositionPatient=None)),
        GeometryError, "ImagePositionPatient or ImageOrientationPatient missing")
    add("missing RescaleSlope/Intercept", _copy("CT_small.dcm", folder, "no_rescale.dcm", RescaleSlope=None,
                                                 RescaleIntercept=None), OK)
    # Geometry problems.
    add("duplicate slice", _series(folder, "duplicate", lambda s: shutil.copy(s / "IM0005.dcm", s / "IM0005b.dcm")),
        GeometryError, "duplicate slices")
    add("missing slice", _series(folder, "missing", lambda s: (s / "IM0011.dcm").unlink()), GeometryError,
        "missing slices")

    def shift(series: Path) -> None:
        ds = pydicom.dcmread(series / "IM0020.dcm")
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        edit_dicom(series / "IM0020.dcm", ImagePositionPatient=[x, y, z + 0.8])

    add("uneven spacing", _series(folder, "uneven", shift), GeometryError, "uneven spacing")
    add("mixed orientations",
        _series(folder, "mixed", lambda s: edit_dicom(s / "IM0003.dcm", ImageOrientationPatient=[1, 0, 0, 0, 0, -1])),
        GeometryError, "mixed orientations")
    add("huge dimensions in DICOM", _copy("CT_small.dcm", folder, "huge.dcm", Rows=65535, Columns=65535,
                                          NumberOfFrames=1000), DicomError, "too large")
    add("zero rows in DICOM", _copy("CT_small.dcm", folder, "zero_rows.dcm", Rows=0), DicomError, "empty axis")
    # Frames, photometry, bit depth, byte order.
    add("2-frame object without geometry", _copy("OBXXXX1A_2frame.dcm", folder), GeometryError, "multi-frame")
    add("enhanced multi-frame CT", _copy("eCT_Supplemental.dcm", folder), OK)
    add("MONOCHROME1 CR", _copy("RG1_UNCR.dcm", folder), OK)
    add("16-bit signed CT", _copy("CT_small.dcm", folder), OK)
    add("16-bit unsigned MR", _copy("MR_small.dcm", folder), OK)
    add("big endian", _copy("MR_small_bigendian.dcm", folder), OK)
    add("implicit VR", _copy("MR_small_implicit.dcm", folder), OK)
    # Compressed transfer syntaxes.
    for name in ("MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                 "JPEGLSNearLossless_16.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "JPEG2000.dcm", "693_J2KR.dcm",
                 "RG1_J2KR.dcm", "emri_small_RLE.dcm"):
        expected = GeometryError if name.startswith("emri") else OK  # emri: multi-frame without spacing
        add(f"compressed {name}", _copy(name, folder), expected)
    add("JPEG baseline greyscale", _jpeg_baseline(folder / "jpeg_baseline.dcm"), OK)
    add("JPEG baseline colour", _copy("SC_rgb_jpeg.dcm", folder), DicomError, "a colour image")
    add("JPEG extended 12-bit", _copy("JPEG-lossy.dcm", folder), DicomError, "cannot decode the pixel data")
    # Contradicting or unusable pixel tags, colour models, syntaxes, names (round 2).
    add("PixelRepresentation contradicts the values", _signed_as_unsigned(folder / "signed_as_unsigned.dcm"),
        DicomError, "PixelRepresentation says unsigned")
    add("BitsStored < BitsAllocated, garbage in the high bits", _garbage_high_bits(folder / "garbage_bits.dcm"), OK)
    add("RescaleSlope 0", _copy("CT_small.dcm", folder, "slope_zero.dcm", RescaleSlope=0), DicomError,
        "RescaleSlope is 0")
    add("RGB with planar configuration 1", _copy("SC_rgb.dcm", folder, "planar1.dcm", PlanarConfiguration=1),
        DicomError, "a colour image (RGB)")
    add("palette colour", _copy("OT-PAL-8-face.dcm", folder), DicomError, "a colour image (PALETTE COLOR)")
    add("deflated explicit VR", _copy("image_dfl.dcm", folder), OK)
    add("no preamble / file meta", _without_preamble(folder / "no_preamble.dcm"), OK)
    add("name with spaces, unicode, newline", _copy("CT_small.dcm", folder, "a b é\nc.dcm"), OK)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 1], rgba[..., 3] = 180, 255
    PILImage.fromarray(rgba).save(folder / "rgba.png")
    add("RGBA PNG", folder / "rgba.png", OK)
    PILImage.fromarray(rgba, "CMYK").save(folder / "cmyk.jpg")
    add("CMYK JPEG", folder / "cmyk.jpg", OK)
    # NIfTI.
    nan = np.zeros((4, 4, 3), np.float32)
    nan[1, 1, 1], nan[2, 2, 2] = np.nan, np.inf
    add("NaN/inf in NIfTI", _nifti(folder / "nan.nii.gz", nan), InputError, "NaN or infinite")
    add("singular NIfTI affine", _singular(folder / "singular.nii.gz"), GeometryError, "affine is singular")
    add("zero-size NIfTI", _nifti(folder / "zero.nii.gz", np.zeros((0, 4, 4), np.int16)), InputError, "empty axis")
    add("huge NIfTI header", _huge_nifti(folder / "huge.nii"), InputError, "too large")
    add("4D NIfTI", _nifti(folder / "four.nii.gz", np.zeros((4, 4, 3, 2), np.int16)), InputError, "2D or 3D")
    # PNG.
    PILImage.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).save(folder / "16bit.png")
    add("16-bit PNG", folder / "16bit.png", OK)
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[..., 0] = 200
    PILImage.fromarray(colour).save(folder / "rgb.png")
    add("RGB PNG", folder / "rgb.png", OK)
    (folder / "fake.png").write_bytes(b"\x89PNG not really")
    add("broken PNG", folder / "fake.png", InputError, "not a readable PNG/JPEG image")
    return items


def _singular(path: Path) -> Path:
    image = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4))
    image.set_qform(None, code=0)
    image.set_sform(np.diag([1.0, 0.0, 1.0, 1.0]), code=2)
    nib.save(image, path)
    return path


def _huge_nifti(path: Path) -> Path:
    """A header that claims 32767 × 32767 × 2000 voxels, followed by almost no data."""
    header = nib.Nifti1Header()
    header.set_data_shape((32_767, 32_767, 2_000))
    header.set_data_dtype(np.int16)
    header.set_sform(np.eye(4), code=1)
    with open(path, "wb") as stream:
        header.write_to(stream)
        stream.write(b"\x00" * 64)
    return path


def _jpeg_baseline(path: Path) -> Path:
    """An 8-bit greyscale JPEG baseline DICOM made from MR_small (Pillow encodes, pydicom encapsulates)."""
    import io

    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    ds = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    grey = (ds.pixel_array.astype(np.float64) / ds.pixel_array.max() * 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(grey).save(buffer, format="JPEG", quality=95)
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(path, enforce_file_format=True)
    return path


def _signed_as_unsigned(path: Path) -> Path:
    """A 16-bit CT whose stored values are negative (signed) but whose PixelRepresentation says unsigned."""
    dataset = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    values = dataset.pixel_array.astype(np.int32) - 3000  # most values now below 0
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
    dataset.PixelData = values.astype(np.int16).tobytes()
    dataset.save_as(path)
    return path


def _garbage_high_bits(path: Path) -> Path:
    """12 bits stored in 16 allocated, the 4 unused high bits set: a reader must ignore them."""
    dataset = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    values = np.clip(dataset.pixel_array.astype(np.int32), 0, 4095).astype(np.uint16)
    dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 12, 11, 0
    dataset.PixelData = (values | 0xF000).tobytes()
    dataset.save_as(path)
    return path


def _without_preamble(path: Path) -> Path:
    """CT_small written as older writers did: no 128-byte preamble, no DICM marker, no file meta."""
    from pydicom.filewriter import dcmwrite

    dataset = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    dataset.preamble = None
    del dataset.file_meta
    dcmwrite(path, dataset, enforce_file_format=False)
    return path
