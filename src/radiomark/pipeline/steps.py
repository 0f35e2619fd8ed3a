"""The steps of the segment-and-measure pipeline after the network: post-processing on the image
grid, the recipe's measurements, the decision by cut-off tables and the image classifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.case import Clinical
from radiomark.decision import Finding, classifier_finding, decide
from radiomark.image import Image, LabelMap
from radiomark.io.study import StudyImages
from radiomark.postprocess import (
    fill_holes,
    gate_by_intensity,
    keep_largest_component,
    remove_small_components,
    sides_from_midline,
)
from radiomark.recipes import biomarkers_module, measure_parameters
from radiomark.recipes.schema import Recipe

if TYPE_CHECKING:
    from radiomark.inference.classifier import ImageClassifier


def postprocess(recipe: Recipe, image: Image, labels: LabelMap) -> LabelMap:
    """The recipe's image-grid post-processing: HU gating, sides from the midline, largest component,
    hole filling, then small-component removal (the network-grid steps happen in the segmenter)."""
    spec = recipe.postprocessing
    if spec.hu_gating:
        labels = gate_by_intensity(labels, image, spec.hu_gating)
    if spec.midline_sides:
        labels = sides_from_midline(labels, spec.midline_sides, spec.midline_cluster_mm)
    if spec.largest_component:
        labels = keep_largest_component(labels)
    if spec.fill_holes:
        labels = fill_holes(labels)
    return remove_small_components(labels, spec.min_component_area_mm2)


def measure(recipe: Recipe, study: StudyImages, labels: LabelMap, clinical: Clinical | None = None
            ) -> dict[str, Measurement]:
    """The recipe's measurements of ``labels`` on ``study`` (without patient data unless given), by
    the ``biomarkers`` module of the recipe's package."""
    return biomarkers_module(recipe).measure(study, labels, clinical or Clinical(), measure_parameters(recipe))


def analyse(recipe: Recipe, study: StudyImages, labels: LabelMap, clinical: Clinical,
            table: str | None = None) -> tuple[dict[str, Measurement], list[Finding], str | None]:
    """Measurements of ``labels`` on ``study``, the findings of cut-off ``table`` (the recipe's
    default when None) and the table's name; no findings and no table for a recipe without tables."""
    table_name = recipe.chosen_table(table)
    measurements = measure(recipe, study, labels, clinical)
    if table_name is None:
        return measurements, [], None
    findings = decide(table_name, recipe.cutoff_tables[table_name], measurements, clinical.sex, clinical.bmi)
    return measurements, findings, table_name


def classify(recipe: Recipe, classifier: ImageClassifier | None, image: Image, labels: LabelMap,
             measurements: dict[str, Measurement], findings: list[Finding],
             ) -> tuple[dict[str, Measurement], list[Finding]]:
    """Add the classifier's probability of its positive class (a measurement) and finding, named by
    the classes it was trained with; without a trained classifier the recipe's finding is undecided
    and says why."""
    if classifier is None:
        assert recipe.classifier is not None  # callers check
        return measurements, [*findings, Finding(recipe.classifier.classes[1], None, "classifier", "", "",
                                                 "not decided: the model folder has no trained classifier")]
    spec = classifier.recipe.classifier
    assert spec is not None  # ImageClassifier.load checks
    positive = spec.classes[1]
    probability = classifier.probability(image, labels)
    measurement = Measurement(f"{positive}_probability", probability, Unit.RATIO,
                              f"{spec.backbone} classifier on the {spec.input} image")
    finding = classifier_finding(positive, probability, spec.threshold,
                                 f"(model {classifier.run_dir.name}, classes {' / '.join(spec.classes)})")
    return {**measurements, measurement.name: measurement}, [*findings, finding]
