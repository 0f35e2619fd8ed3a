"""Reading and writing images: DICOM, NIfTI, PNG/JPEG. Convention changes happen here only."""

from __future__ import annotations

import os
from pathlib import Path

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.io.dicom import read_dicom_series, scan_dicom
from radiomark.io.nifti import is_nifti_path, read_nifti, write_nifti
from radiomark.io.raster import is_raster_path, read_raster, write_png
from radiomark.io.selection import SeriesSelector, choose_series

__all__ = ["read_image", "write_image"]


def read_image(path: str | os.PathLike[str], *, series_uid: str | None = None,
               select: str | SeriesSelector | None = None,
               spacing_mm: tuple[float, float] | None = None) -> Image:
    """Read a DICOM folder or file, a NIfTI file or a PNG/JPEG radiograph as an :class:`Image`.

    For DICOM, ``series_uid`` or ``select`` (rules, see :mod:`radiomark.io.selection`) pick the
    series when the path holds several. ``spacing_mm`` (row, column) applies to PNG/JPEG only.
    """
    source = Path(path)
    if not source.exists():
        raise InputError(source, "no such file or folder")
    if source.is_file() and is_nifti_path(source):
        return read_nifti(source)
    if source.is_file() and is_raster_path(source):
        return read_raster(source, spacing_mm)
    selector = SeriesSelector.parse(select) if isinstance(select, str) else select
    series = choose_series(scan_dicom(source), str(source), series_uid=series_uid, selector=selector)
    return read_dicom_series(series)


def write_image(image: Image, path: str | os.PathLike[str]) -> Path:
    """Write ``image`` as NIfTI (``.nii``/``.nii.gz``) or PNG (``.png``), atomically."""
    if is_nifti_path(path):
        return write_nifti(image, path)
    if str(path).lower().endswith(".png"):
        return write_png(image, path)
    raise InputError(path, "unsupported output format; use .nii.gz, .nii or .png")
