"""One case of a segment-and-measure recipe: the study's images as the recipe takes them →
segmentation → post-processing → measurements → decision (cut-off tables, image classifier) → QC
flags → the case's output folder."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from radiomark.case import CaseResult, Clinical
from radiomark.decision import withhold
from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.inference.classifier import ImageClassifier
from radiomark.inference.predictor import Segmenter
from radiomark.io.label_files import read_labels
from radiomark.io.study import MissingEchoesError, StudyImages, read_study
from radiomark.outputs.case_folder import write_case_outputs
from radiomark.outputs.level_figure import write_level_figure
from radiomark.outputs.options import OutputOptions
from radiomark.pipeline.batch import RunCase, Study, case_id
from radiomark.pipeline.steps import analyse, classify, postprocess
from radiomark.quality import review
from radiomark.recipes.schema import Recipe
from radiomark.transforms.vertebral_levels import LevelResult, find_level


@dataclass(frozen=True)
class Level:
    """The vertebral level a slice was taken at, with the volume it was found in (for the QC picture)."""

    result: LevelResult
    volume: Image


def study_images(found: Study, recipe: Recipe, slice_index: int | None, pixel_spacing_mm: float | None, *,
                 series_uid: str | None = None, select: str | None = None, level: str | None = None
                 ) -> tuple[StudyImages, Level | None]:
    """The images of ``study`` as the recipe takes them: its channels (and QSM map) for a 3D
    recipe; one 2D image for a 2D recipe — a volume's ``slice_index`` slice, else its slice through
    vertebral ``level`` (default: the recipe's ``vertebral_level``), found with
    :func:`~radiomark.transforms.vertebral_levels.find_level` — or a radiograph with
    ``pixel_spacing_mm``. ``series_uid`` / ``select``: see :func:`~radiomark.io.study.read_study`."""
    study = found.path
    images = read_study(study, recipe, found.series, series_uid=series_uid, select=select)
    if recipe.preprocessing.spatial_dims == 3:
        return images, None
    image = images.image
    if pixel_spacing_mm is not None:
        if image.spacing_mm is not None:
            raise InputError(study, f"already has a pixel spacing ({', '.join(f'{s:g}' for s in image.spacing_mm)} "
                                    "mm) from its header; --spacing is for images without one")
        if image.ndim != 2:
            raise InputError(study, "--spacing applies to 2D images (radiographs) only")
        image = replace(image, spacing_mm=(pixel_spacing_mm, pixel_spacing_mm))
    found_level = None
    if image.ndim == 3:
        wanted = level or recipe.vertebral_level
        if slice_index is None and wanted:
            result = find_level(image, wanted)
            if result.slice_index is None:
                raise InputError(study, f"{result.level} not found: {'; '.join(result.warnings)}; give --slice K "
                                        f"(0..{image.shape[0] - 1}, from inferior to superior) or another --level")
            found_level = Level(result, image)
            slice_index = result.slice_index
        if slice_index is None:
            raise InputError(study, f"this is a volume of {image.shape[0]} slices and recipe {recipe.name} reads one "
                                    f"image; give --slice K (0..{image.shape[0] - 1}, from inferior to superior)")
        if not 0 <= slice_index < image.shape[0]:
            raise InputError(study, f"--slice {slice_index} is outside the volume (0..{image.shape[0] - 1})")
        files = list(image.metadata.get("files") or [])
        image = image.take_slice(slice_index)
        if files:  # the slice's own source file, for outputs that reference it (DICOM SEG)
            image = replace(image, metadata={**image.metadata, "files": [files[slice_index]]})
    elif slice_index is not None and slice_index != 0:
        raise InputError(study, f"--slice {slice_index} given for a single-slice image")
    elif level is not None:
        raise InputError(study, f"--level {level} needs a CT volume; this is a single slice")
    return StudyImages((image,), selection=images.selection), found_level


@dataclass(frozen=True)
class CaseContext:
    """What every case of a run shares: the loaded models (each with the recipe it runs), the output
    options and the values given on the command line (patient data, slice, pixel spacing, cut-off
    table, series choice)."""

    segmenter: Segmenter
    classifier: ImageClassifier | None
    outputs: OutputOptions
    sex: str | None = None
    height_m: float | None = None
    weight_kg: float | None = None
    slice_index: int | None = None
    pixel_spacing_mm: float | None = None
    table: str | None = None
    series_uid: str | None = None
    select: str | None = None
    #: Other bundled models of the recipe for studies with fewer echoes / contrasts than ``segmenter`` reads.
    alternatives: tuple[Segmenter, ...] = ()
    #: The vertebral level a 2D CT recipe measures in a volume (default: the recipe's).
    level: str | None = None

    def _images(self, study: Study) -> tuple[Segmenter, StudyImages, Level | None]:
        """The first model whose inputs the study holds, the study's images as it reads them, and
        the vertebral level of the slice when it was found in a volume."""
        for segmenter in (self.segmenter, *self.alternatives):
            try:
                return segmenter, *study_images(study, segmenter.recipe, self.slice_index, self.pixel_spacing_mm,
                                                series_uid=self.series_uid, select=self.select, level=self.level)
            except MissingEchoesError as error:
                missing = error
        raise missing

    def runner(self, out: Path) -> RunCase:
        """:meth:`run` into ``out``."""
        return partial(self.run, out=out)

    def run(self, study: Study, name: str, out: Path) -> CaseResult:
        """Run ``study`` into ``out/name`` (see the module docstring)."""
        segmenter, images, level = self._images(study)
        recipe = segmenter.recipe
        image = images.image
        clinical = Clinical.from_image(image, self.sex, self.height_m, self.weight_kg)
        prediction = segmenter.segment(images.channels)
        labels = postprocess(recipe, image, prediction.labels)
        measurements, findings, table_name = analyse(recipe, images, labels, clinical, self.table)
        if recipe.classifier is not None:
            measurements, findings = classify(recipe, self.classifier, image, labels, measurements, findings)
        checked = review(recipe, image, prediction.labels, prediction.probabilities, labels, measurements,
                         prediction.rotation_fired)
        flags, withheld = checked.flags, checked.withheld
        figures = {}
        if level is not None:
            flags += level_flags(level.result, recipe.vertebral_level)
            withheld += [f"vertebral level {level.result.level} found with {level.result.confidence} confidence"
                         ] if level.result.confidence == "low" else []  # a slab ("none") is flagged only
            figures["level.png"] = partial(write_level_figure, level.volume, level.result)
        result = CaseResult(name, str(study.path), clinical, measurements, withhold(findings, withheld), table_name,
                            flags, series=images.selection.record() if images.selection is not None else {},
                            level=level.result.record() if level is not None else {},
                            confidence=checked.confidence)
        return write_case_outputs(recipe, image, labels, result, out / name, model=str(segmenter.run_dir),
                                  options=self.outputs, figures=figures)


@dataclass(frozen=True)
class RunPlan:
    """What a process needs to run the cases of a run: the recipe, the model folders (the first is
    the default, the others its variants), the backend, the output folder and the
    :class:`CaseContext` values. Picklable: worker processes of a cohort load their own models
    from it (:meth:`load`)."""

    recipe: Recipe
    model_dirs: tuple[Path, ...]
    backend: str
    out: Path
    outputs: OutputOptions
    values: dict[str, Any]

    def context(self) -> CaseContext:
        """The models loaded (see :meth:`Segmenter.load <radiomark.inference.predictor.Segmenter.load>`)
        and the run's values."""
        segmenter, *alternatives = [Segmenter.load(folder, recipe=self.recipe, backend=self.backend)
                                    for folder in self.model_dirs]
        classifier = (ImageClassifier.load(segmenter.run_dir, backend=self.backend)
                      if segmenter.recipe.classifier is not None and ImageClassifier.exists(segmenter.run_dir)
                      else None)
        return CaseContext(segmenter, classifier, self.outputs, alternatives=tuple(alternatives), **self.values)

    def load(self) -> RunCase:
        """``run_case(study, case_id)`` writing into :attr:`out`, with freshly loaded models."""
        return self.context().runner(self.out)


def level_flags(result: LevelResult, recipe_level: str | None) -> list[str]:
    """QC flags of a level found automatically: its warnings, a confidence below high, and a level
    other than the one the recipe's cut-offs were made for."""
    flags = [f"vertebral level: {warning}" for warning in result.warnings]
    if result.confidence != "high":
        flags.append(f"vertebral level {result.level} found with {result.confidence} confidence "
                     f"(counted from the {result.anchor}): check level.png")
    if recipe_level is not None and result.level != recipe_level:
        flags.append(f"measured at {result.level}; the recipe's cut-offs were made at {recipe_level}")
    return flags


def measure_case(recipe: Recipe, image_path: Path, mask_path: Path, out: Path, *, sex: str | None = None,
                 height_m: float | None = None, weight_kg: float | None = None, slice_index: int | None = None,
                 table: str | None = None, series_uid: str | None = None, select: str | None = None,
                 label_mapping: str | None = None) -> CaseResult:
    """Measure an existing (e.g. manually corrected) label map — NIfTI, Slice-O-Matic TAG or DICOM
    SEG, see :func:`~radiomark.io.label_files.read_labels` — on its image; no model involved. A 2D
    mask of a volume's slice (a TAG file) needs ``slice_index``."""
    images = read_study(image_path, recipe, series_uid=series_uid, select=select)
    image = images.image
    if image.ndim == 3 and recipe.preprocessing.spatial_dims == 2:
        if slice_index is None:
            raise InputError(image_path, "this is a volume; give --slice K")
        if mask_path.suffix.lower() != ".tag":  # NIfTI / SEG masks cover the volume; a TAG file its slice
            labels = read_labels(mask_path, image, recipe.labels, label_mapping).take_slice(slice_index)
            image = image.take_slice(slice_index)
        else:
            image = image.take_slice(slice_index)
            labels = read_labels(mask_path, image, recipe.labels, label_mapping)
        images = StudyImages((image,))
    else:
        labels = read_labels(mask_path, image, recipe.labels, label_mapping)
    clinical = Clinical.from_image(image, sex, height_m, weight_kg)
    measurements, findings, table_name = analyse(recipe, images, labels, clinical, table)
    checked = review(recipe, image, None, None, labels, measurements)
    result = CaseResult(case_id(image_path), str(image_path), clinical, measurements,
                        withhold(findings, checked.withheld), table_name, checked.flags,
                        series=images.selection.record() if images.selection is not None else {})
    return write_case_outputs(recipe, image, labels, result, out / result.case_id, model="(given mask)")
