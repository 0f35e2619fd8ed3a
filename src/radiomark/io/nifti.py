"""NIfTI-1 reading and writing with nibabel, converting RAS ↔ LPS and axis order here only.

NIfTI indexes voxels ``(i, j, k) = (column, row, slice)`` and maps them to RAS millimetres;
radiomark keeps LPS and ``[slice, row, column]`` arrays. Files are written as NIfTI-1 with the
same affine in sform and qform (code 1, scanner) so that nibabel, SimpleITK, ITK-SNAP and
3D Slicer agree on the geometry. NIfTI-1 stores the affine as float32, so positions keep
about seven significant digits (an error below 1e-5 mm for coordinates within ±128 mm, below
3e-5 mm within ±512 mm). A file with a single slice reads back as a 2D image.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import overload

import nibabel as nib
import numpy as np

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image, LabelMap
from radiomark.io.atomic import atomic_file
from radiomark.io.limits import check_size

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a NIfTI file by its suffix."""
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def image_to_nibabel(image: Image) -> nib.Nifti1Image:
    """Convert ``image`` (a 2D image becomes a one-slice volume) to a NIfTI-1 image."""
    volume = image.as_volume()
    spacing = volume.require_spacing()
    affine_lps = np.eye(4)
    # NIfTI axis i is the array's column axis (2), j the row axis (1), k the slice axis (0).
    for nifti_axis, array_axis in enumerate((2, 1, 0)):
        affine_lps[:3, nifti_axis] = volume.direction[:, array_axis] * spacing[array_axis]
    affine_lps[:3, 3] = volume.origin_mm
    affine_ras = LPS_FROM_RAS @ affine_lps
    data = np.asarray(volume.array).transpose(2, 1, 0)
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    result = nib.Nifti1Image(data, affine_ras)
    result.set_sform(affine_ras, code=1)
    result.set_qform(affine_ras, code=1)
    result.header.set_xyzt_units("mm")
    return result


def _warn_if_qform_and_sform_disagree(source: nib.Nifti1Image, path: str | os.PathLike[str] | None) -> None:
    """Both orientations set but different: nibabel (and radiomark) use the sform; say so."""
    header = source.header
    qform, qcode = header.get_qform(coded=True)
    sform, scode = header.get_sform(coded=True)
    if qcode and scode and not np.allclose(qform, sform, atol=1e-3):
        warnings.warn(f"{path}: the NIfTI qform and sform disagree; the sform (code {int(scode)}) is used",
                      stacklevel=3)


def image_from_nibabel(source: nib.Nifti1Image, path: str | os.PathLike[str] | None = None,
                       labels: Mapping[int, str] | None = None) -> Image:
    """Convert a nibabel NIfTI image to an :class:`Image` (or :class:`LabelMap` with ``labels``)."""
    check_size(path, source.shape)
    data = np.asanyarray(source.dataobj)
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise InputError(path, f"{bad} voxel(s) are NaN or infinite; fix or mask them before use")
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., np.newaxis]
    if data.ndim != 3:
        raise InputError(path, f"expected a 2D or 3D NIfTI image, found shape {data.shape}")
    _warn_if_qform_and_sform_disagree(source, path)
    affine_lps = LPS_FROM_RAS @ source.affine
    columns = affine_lps[:3, :3]
    spacing_ijk = np.linalg.norm(columns, axis=0)
    if np.any(spacing_ijk <= 0) or abs(np.linalg.det(columns)) < 1e-12:
        raise GeometryError(path, f"the NIfTI affine is singular: {source.affine.tolist()}")
    direction_ijk = columns / spacing_ijk
    metadata = {"source": str(path)} if path is not None else {}
    fields = dict(array=data.transpose(2, 1, 0), spacing_mm=tuple(spacing_ijk[::-1]),
                  origin_mm=tuple(affine_lps[:3, 3]), direction=direction_ijk[:, ::-1], metadata=metadata)
    image = Image(**fields) if labels is None else LabelMap(**fields, labels=labels)
    return image.take_slice(0) if image.shape[0] == 1 else image


@overload
def read_nifti(path: str | os.PathLike[str], labels: None = None) -> Image: ...


@overload
def read_nifti(path: str | os.PathLike[str], labels: Mapping[int, str]) -> LabelMap: ...


def read_nifti(path: str | os.PathLike[str], labels: Mapping[int, str] | None = None) -> Image:
    """Read a NIfTI file; with ``labels`` the result is a :class:`LabelMap`."""
    try:
        source = nib.load(os.fspath(path))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except Exception as error:  # nibabel raises many types for damaged files
        raise InputError(path, f"not a readable NIfTI file ({error})") from error
    try:
        return image_from_nibabel(source, path, labels)  # type: ignore[arg-type]  # nib.load's declared type is the base class
    except (OSError, EOFError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(path, f"cannot read the NIfTI voxel data ({error})") from error


def write_nifti(image: Image, path: str | os.PathLike[str]) -> Path:
    """Write ``image`` as NIfTI-1 atomically; label maps keep their small integer type."""
    if not is_nifti_path(path):
        raise InputError(path, "a NIfTI output needs a .nii or .nii.gz suffix")
    with atomic_file(path) as temporary:
        nib.save(image_to_nibabel(image), temporary)
    return Path(path)
