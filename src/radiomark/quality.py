"""Quality-control flags: conditions under which a result deserves a second look."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.image import Image, LabelMap
from radiomark.recipes.schema import Recipe


def quality_flags(recipe: Recipe, image: Image, predicted: LabelMap | None, final: LabelMap,
                  measurements: Mapping[str, Measurement], rotation_fired: bool = False) -> list[str]:
    """Human-readable flags; an empty list means no check fired.

    ``predicted`` is the network's label map before post-processing (None for a given mask): a
    large share removed by post-processing suggests the segmentation and the image disagree.
    ``rotation_fired`` says the recipe's rotation rule had to average rotated predictions.
    """
    spec = recipe.quality
    flags = []
    if spec.expected_orientation is not None and image.orientation != spec.expected_orientation:
        flags.append(f"the image is {image.orientation}, the recipe expects an {spec.expected_orientation} slice")
    if rotation_fired:
        flags.append("rotation rule fired: the first prediction covered too little area, so predictions of the "
                     "image rotated 90° both ways were averaged in")
    if image.spacing_mm is None:
        flags.append("pixel size unknown (no usable PixelSpacing / ImagerPixelSpacing): areas are in pixels; "
                     "give --spacing MM to have them in cm²")
    empty = [name.replace("_", " ") for value, name in final.labels.items() if not np.any(final.array == value)]
    if empty:
        flags.append(f"nothing segmented for: {', '.join(empty)}")
    thickness = image.metadata.get("slice_thickness_mm")
    if thickness is not None and thickness > spec.max_slice_thickness_mm:
        flags.append(f"slice thickness {thickness:g} mm exceeds {spec.max_slice_thickness_mm:g} mm")
    if predicted is not None:
        for value, name in final.labels.items():
            before = int(np.count_nonzero(predicted.array == value))
            after = int(np.count_nonzero(final.array == value))
            if before and (before - after) / before > spec.max_removed_fraction:
                flags.append(f"post-processing removed {100 * (before - after) / before:.0f} % of the predicted "
                             f"{name.replace('_', ' ')}")
    if "qsm_threshold_ppm" in recipe.measures and not any(m.unit == Unit.PPM for m in measurements.values()):
        flags.append("no QSM map was found (or the model reads none, or nothing was segmented): susceptibility "
                     "measures are left out")
    if spec.side_by_side is not None and final.ndim == 2:
        flags += _side_by_side(final, *spec.side_by_side)
    for name, (low, high) in spec.plausible_ranges.items():
        measurement = measurements.get(name)
        if measurement is not None and not low <= measurement.value <= high:
            flags.append(f"{name.replace('_', ' ')} {measurement.value:.1f} {measurement.unit} is outside the "
                         f"plausible range {low:g}–{high:g}")
    return flags


def _side_by_side(labels: LabelMap, first: str, second: str) -> list[str]:
    """A flag when ``first`` is not left of ``second`` in the image or their row ranges overlap by
    less than half of the shorter one (a rotated or flipped radiograph, or a failed segmentation)."""
    masks = [labels.mask(first), labels.mask(second)]
    if not all(mask.any() for mask in masks):
        return []  # the "nothing segmented" flag covers it
    rows = [np.nonzero(mask.any(axis=1))[0] for mask in masks]
    columns = [np.nonzero(mask)[1].mean() for mask in masks]
    overlap = min(rows[0][-1], rows[1][-1]) - max(rows[0][0], rows[1][0]) + 1
    shorter = min(len(rows[0]), len(rows[1]))
    if columns[0] < columns[1] and overlap >= shorter / 2:
        return []
    return [f"{first.replace('_', ' ')} and {second.replace('_', ' ')} are not side by side as expected: the image "
            "may be rotated or flipped, or the segmentation failed; check the overlay"]
