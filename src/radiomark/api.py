"""What the CLI does, as plain functions that return data and raise :class:`RadiomarkError`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.io import read_image, write_image
from radiomark.io.dicom import ProgressCallback, scan_dicom
from radiomark.io.nifti import is_nifti_path
from radiomark.io.raster import is_raster_path
from radiomark.phantoms import PhantomFormat, generate_case, write_case
from radiomark.recipes import RecipeName


@dataclass(frozen=True)
class SeriesSummary:
    """One row of ``radiomark info``: what a series (or image file) is and what is wrong with it."""

    path: str
    patient: str
    study: str
    series: str
    modality: str
    description: str
    orientation: str
    size_xyz: tuple[int, ...]
    spacing_xyz_mm: tuple[float, ...] | None
    slices: int
    problems: tuple[str, ...]


def _image_summary(path: Path, image: Image) -> SeriesSummary:
    return SeriesSummary(path=str(path), patient="", study="", series=path.name,
                         modality=str(image.metadata.get("modality", "")), description="",
                         orientation=str(image.orientation), size_xyz=image.shape[::-1],
                         spacing_xyz_mm=None if image.spacing_mm is None else image.spacing_mm[::-1],
                         slices=image.shape[0] if image.ndim == 3 else 1, problems=())


def info(path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> list[SeriesSummary]:
    """Summaries of the DICOM series under ``path``, or of one NIfTI/PNG/JPEG file.

    Sizes and spacings are listed in (x, y[, z]) = (column, row[, slice]) order, as viewers show
    them — the reverse of radiomark's array order.
    """
    source = Path(path)
    if source.is_file() and (is_nifti_path(source) or is_raster_path(source)):
        return [_image_summary(source, read_image(source))]
    rows = []
    for series in scan_dicom(source, progress):
        spacing = None if series.pixel_spacing_mm is None else series.pixel_spacing_mm[::-1]
        if spacing is not None and series.slice_spacing_mm is not None:
            spacing = (*spacing, series.slice_spacing_mm)
        rows.append(SeriesSummary(
            path=str(series.folder), patient=series.patient_id, study=series.study_uid, series=series.series_uid,
            modality=series.modality, description=series.description,
            orientation=str(series.orientation or ""),
            size_xyz=(series.size[1], series.size[0], *((series.n_slices,) if series.n_slices > 1 else ())),
            spacing_xyz_mm=spacing, slices=series.n_slices, problems=tuple(p.message for p in series.problems)))
    return rows


def convert(path: str | os.PathLike[str], out: str | os.PathLike[str], *, series_uid: str | None = None,
            select: str | None = None) -> Path:
    """Read one series or image from ``path`` and write it to ``out`` (NIfTI), atomically."""
    if not is_nifti_path(out):
        raise InputError(out, "the output must be a NIfTI file (.nii.gz or .nii)")
    image = read_image(path, series_uid=series_uid, select=select)
    return write_image(image, out)


def make_phantoms(recipe: RecipeName | str, outdir: str | os.PathLike[str], *, cases: int = 1,
                  fmt: PhantomFormat | str = PhantomFormat.DICOM, first_seed: int = 0,
                  progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write ``cases`` phantom cases of ``recipe`` (seeds ``first_seed`` onwards) under ``outdir``."""
    if cases < 1:
        raise InputError(None, f"--cases must be at least 1, got {cases}")
    written = []
    for index in range(cases):
        written.append(write_case(generate_case(recipe, first_seed + index), outdir, fmt))
        if progress is not None:
            progress(index + 1, cases)
    return written
