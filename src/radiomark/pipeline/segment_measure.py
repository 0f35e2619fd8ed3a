"""One case of a segment-and-measure recipe: the study's images as the recipe takes them →
segmentation → post-processing → measurements → decision (cut-off tables, image classifier) → QC
flags → the case's output folder."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from radiomark.case import CaseResult, Clinical
from radiomark.errors import InputError
from radiomark.inference.classifier import ImageClassifier
from radiomark.inference.predictor import Segmenter
from radiomark.io.nifti import read_nifti
from radiomark.io.study import MissingEchoesError, StudyImages, read_study
from radiomark.outputs.case_folder import OutputOptions, write_case_outputs
from radiomark.pipeline.batch import Study, case_id
from radiomark.pipeline.steps import analyse, classify, postprocess
from radiomark.quality import quality_flags
from radiomark.recipes.schema import Recipe


def study_images(found: Study, recipe: Recipe, slice_index: int | None, pixel_spacing_mm: float | None, *,
                 series_uid: str | None = None, select: str | None = None) -> StudyImages:
    """The images of ``study`` as the recipe takes them: its channels (and QSM map) for a 3D
    recipe; one 2D image for a 2D recipe, a volume's ``slice_index`` slice or a radiograph with
    ``pixel_spacing_mm``. ``series_uid`` / ``select``: see :func:`~radiomark.io.study.read_study`."""
    study = found.path
    images = read_study(study, recipe, found.series, series_uid=series_uid, select=select)
    if recipe.preprocessing.spatial_dims == 3:
        return images
    image = images.image
    if pixel_spacing_mm is not None:
        if image.spacing_mm is not None:
            raise InputError(study, f"already has a pixel spacing ({', '.join(f'{s:g}' for s in image.spacing_mm)} "
                                    "mm) from its header; --spacing is for images without one")
        if image.ndim != 2:
            raise InputError(study, "--spacing applies to 2D images (radiographs) only")
        image = replace(image, spacing_mm=(pixel_spacing_mm, pixel_spacing_mm))
    if image.ndim == 3:
        if slice_index is None:
            raise InputError(study, f"this is a volume of {image.shape[0]} slices and recipe {recipe.name} reads one "
                                    f"image; give --slice K (0..{image.shape[0] - 1}, from inferior to superior)")
        files = list(image.metadata.get("files") or [])
        image = image.take_slice(slice_index)
        if files:  # the slice's own source file, for outputs that reference it (DICOM SEG)
            image = replace(image, metadata={**image.metadata, "files": [files[slice_index]]})
    elif slice_index is not None and slice_index != 0:
        raise InputError(study, f"--slice {slice_index} given for a single-slice image")
    return StudyImages((image,), selection=images.selection)


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

    def _images(self, study: Study) -> tuple[Segmenter, StudyImages]:
        """The first model whose inputs the study holds, and the study's images as it reads them."""
        for segmenter in (self.segmenter, *self.alternatives):
            try:
                return segmenter, study_images(study, segmenter.recipe, self.slice_index, self.pixel_spacing_mm,
                                               series_uid=self.series_uid, select=self.select)
            except MissingEchoesError as error:
                missing = error
        raise missing

    def run(self, study: Study, name: str, out: Path) -> CaseResult:
        """Run ``study`` into ``out/name`` (see the module docstring)."""
        segmenter, images = self._images(study)
        recipe = segmenter.recipe
        image = images.image
        clinical = Clinical.from_image(image, self.sex, self.height_m, self.weight_kg)
        prediction = segmenter.segment(images.channels)
        labels = postprocess(recipe, image, prediction.labels)
        measurements, findings, table_name = analyse(recipe, images, labels, clinical, self.table)
        if recipe.classifier is not None:
            measurements, findings = classify(recipe, self.classifier, image, labels, measurements, findings)
        flags = quality_flags(recipe, image, prediction.labels, labels, measurements, prediction.rotation_fired)
        result = CaseResult(name, str(study.path), clinical, measurements, findings, table_name, flags,
                            series=images.selection.record() if images.selection is not None else {})
        return write_case_outputs(recipe, image, labels, result, out / name, model=str(segmenter.run_dir),
                                  options=self.outputs)


def measure_case(recipe: Recipe, image_path: Path, mask_path: Path, out: Path, *, sex: str | None = None,
                 height_m: float | None = None, weight_kg: float | None = None, slice_index: int | None = None,
                 table: str | None = None, series_uid: str | None = None, select: str | None = None) -> CaseResult:
    """Measure an existing (e.g. manually corrected) label map on its image; no model involved."""
    images = read_study(image_path, recipe, series_uid=series_uid, select=select)
    image = images.image
    labels = read_nifti(mask_path, labels=recipe.labels)
    if image.ndim == 3 and labels.ndim == 3 and recipe.preprocessing.spatial_dims == 2:
        if slice_index is None:
            raise InputError(image_path, "this is a volume; give --slice K")
        image, labels = image.take_slice(slice_index), labels.take_slice(slice_index)
        images = StudyImages((image,))
    if not labels.geometry_equal(image, atol=1e-3):
        raise InputError(mask_path, f"the mask grid {labels.shape} does not match the image grid {image.shape}")
    clinical = Clinical.from_image(image, sex, height_m, weight_kg)
    measurements, findings, table_name = analyse(recipe, images, labels, clinical, table)
    flags = quality_flags(recipe, image, None, labels, measurements)
    result = CaseResult(case_id(image_path), str(image_path), clinical, measurements, findings, table_name,
                        flags, series=images.selection.record() if images.selection is not None else {})
    return write_case_outputs(recipe, image, labels, result, out / result.case_id, model="(given mask)")
