"""A study's images as a recipe needs them: the network's input channels and an optional QSM map.

Channels are echoes ranked by echo time (rank 1 = shortest TE) among the series the recipe's
series rules choose (:mod:`radiomark.io.series_rules`); a single-image recipe asks for rank 1,
the chosen series. Where the images come from:

* a DICOM folder or file: the series the rules choose (``--series`` names one instead,
  ``--select`` adds conditions); for a multi-echo recipe the other series of the same acquisition
  (same study, grid size and slice count, distinct EchoTimes) join it as echoes (one series holding
  several echo times is split per echo by the scanner of :mod:`radiomark.io.dicom`);
* a NIfTI file: one image (rank 1);
* a folder of NIfTI files: files named ``echo<N>`` (``echo1.nii.gz``, BIDS ``..._echo-2_...``)
  are echo N; otherwise ``image.nii.gz``, else the first other NIfTI file, is rank 1; a file whose
  name contains ``qsm`` is the QSM map and ``labels.nii.gz`` is never an image; a ``dicom/``
  subfolder (the case layout of training data) is read as DICOM.

Every channel must lie on the grid of the first; a QSM map on another grid is resampled onto it
(linear, SimpleITK).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image
from radiomark.io.dicom import DicomSeries, read_dicom_series, scan_dicom
from radiomark.io.nifti import is_nifti_path, read_nifti
from radiomark.io.raster import is_raster_path, read_raster
from radiomark.io.selection import choose_series, describe_series
from radiomark.io.series_rules import SeriesChoice, choose
from radiomark.recipes.schema import Recipe
from radiomark.recipes.series_schema import SeriesSelector

#: A NIfTI file of echo N: ``echo1.nii.gz``, ``sub-01_echo-2_GRE.nii.gz``.
ECHO_FILE = re.compile(r"echo[-_]?(\d+)", re.IGNORECASE)
LABELS_FILE = "labels.nii.gz"


@dataclass(frozen=True)
class StudyImages:
    """The images of one study: ``channels`` in the recipe's order (the first defines the grid
    every output lies on), ``qsm``, a susceptibility map in ppm on that grid, when given, and for
    DICOM the series choice with its reasons."""

    channels: tuple[Image, ...]
    qsm: Image | None = None
    selection: SeriesChoice | None = None

    def __post_init__(self) -> None:
        if not self.channels:
            raise InputError(None, "a study needs at least one image")

    @property
    def image(self) -> Image:
        """The first channel: the image measurements and outputs refer to."""
        return self.channels[0]


#: What :func:`_pick` ranks: file paths or series.
Picked = TypeVar("Picked")


def _nifti_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and is_nifti_path(p) and p.name != LABELS_FILE and not p.name.startswith("."))


def _nifti_echoes(folder: Path, files: list[Path]) -> list[Path]:
    numbered: dict[int, Path] = {}
    for path in files:
        match = ECHO_FILE.search(path.name)
        if match:
            number = int(match.group(1))
            if number in numbered:
                raise InputError(folder, f"two files for echo {number}: {numbered[number].name}, {path.name}")
            numbered[number] = path
    if numbered:
        expected = list(range(1, max(numbered) + 1))
        if sorted(numbered) != expected:
            raise InputError(folder, f"echo files numbered {sorted(numbered)}; expected {expected}")
        return [numbered[n] for n in expected]
    others = [p for p in files if "qsm" not in p.name.lower()]
    preferred = [p for p in others if p.name == "image.nii.gz"]
    return (preferred or others)[:1]


class MissingEchoesError(InputError):
    """The study holds fewer echoes / contrasts than the model reads (another model may fit)."""


def _pick(ranked: Sequence[Picked], echoes: Sequence[int], where: Path, names: Sequence[str]) -> list[Picked]:
    if max(echoes) > len(ranked):
        raise MissingEchoesError(where, f"the recipe needs echo ranks {list(echoes)} but {len(ranked)} image(s) were "
                                f"found ({'; '.join(names)}); multi-echo input is a DICOM study with one EchoTime "
                                "per echo, or NIfTI files named echo1.nii.gz, echo2.nii.gz, ...")
    return [ranked[rank - 1] for rank in echoes]


def _on_grid(images: Sequence[Image], where: Path) -> None:
    first = images[0]
    for rank, other in enumerate(images[1:], start=2):
        if not other.geometry_equal(first, atol=1e-3):
            raise GeometryError(where, f"input image {rank} ({other.shape}) is not on the grid of image 1 "
                                       f"({first.shape}); the channels of a study must share one grid")


def read_study(path: str | os.PathLike[str], recipe: Recipe, scanned: Sequence[DicomSeries] | None = None, *,
               series_uid: str | None = None, select: str | None = None) -> StudyImages:
    """Read the channels and optional QSM map of one study as ``recipe`` wants them (see the module
    docstring): its ``series`` rules (plus ``select`` conditions) or ``series_uid`` choose the image
    series, ``inputs.echoes`` the echo ranks, ``inputs.qsm_selector`` the QSM series of a DICOM
    study. ``scanned``: the study's DICOM series when its headers were already read
    (:func:`~radiomark.io.dicom.scan_dicom` of ``path``)."""
    echoes = recipe.inputs.echoes

    source = Path(path)
    if not source.exists():
        raise InputError(source, "no such file or folder")
    qsm: Image | None = None
    selection: SeriesChoice | None = None
    nifti = _nifti_files(source) if source.is_dir() else []
    if (series_uid is not None or select is not None) and (nifti or is_nifti_path(source) or is_raster_path(source)):
        raise InputError(source, "--series and --select choose among DICOM series; this input is "
                                 f"{'NIfTI' if nifti or is_nifti_path(source) else 'a PNG/JPEG image'}")
    if source.is_file() and (is_nifti_path(source) or is_raster_path(source)):
        channels = _pick([source], echoes, source, [source.name])
        images = [read_nifti(source) if is_nifti_path(source) else read_raster(source)]
    elif nifti:
        ranked = _nifti_echoes(source, nifti)
        channels = _pick(ranked, echoes, source, [p.name for p in ranked])
        images = [read_nifti(p) for p in channels]
        qsm_files = [p for p in nifti if "qsm" in p.name.lower()]
        if len(qsm_files) > 1:
            raise InputError(source, f"several QSM files: {', '.join(p.name for p in qsm_files)}")
        qsm = read_nifti(qsm_files[0]) if qsm_files else None
    else:
        folder = source / "dicom" if (source / "dicom").is_dir() else source
        found = list(scanned) if scanned is not None else scan_dicom(folder)
        selection = choose(found, recipe.series.with_selection(select, series_uid), str(folder),
                           echo_set=len(echoes) > 1)
        picked = _pick(selection.chosen, echoes, folder, [describe_series(s) for s in selection.chosen])
        images = [read_dicom_series(series) for series in picked]
        if recipe.inputs.qsm_selector is not None:
            wanted = SeriesSelector.parse(recipe.inputs.qsm_selector)
            if any(not wanted.failed_rules(series) for series in found):
                qsm = read_dicom_series(choose_series(found, str(folder), selector=wanted))
    _on_grid(images, source)
    if qsm is not None and not qsm.geometry_equal(images[0], atol=1e-3):
        from radiomark.io.sitk import resample_like  # SimpleITK: only for a QSM map off the image grid

        qsm = resample_like(qsm, images[0], linear=True)
    return StudyImages(tuple(images), qsm, selection)
