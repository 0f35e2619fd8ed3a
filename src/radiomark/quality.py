"""Quality-control flags: conditions under which a result deserves a second look."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from radiomark.biomarkers.measurement import Measurement
from radiomark.image import Image, LabelMap, Orientation
from radiomark.recipes.schema import Recipe


def quality_flags(recipe: Recipe, image: Image, predicted: LabelMap | None, final: LabelMap,
                  measurements: Mapping[str, Measurement]) -> list[str]:
    """Human-readable flags; an empty list means no check fired.

    ``predicted`` is the network's label map before post-processing (None for a given mask): a
    large share removed by HU gating suggests the segmentation and the image disagree.
    """
    spec = recipe.quality
    flags = []
    if image.orientation is not Orientation.AXIAL:
        flags.append(f"the image is {image.orientation}, the recipe expects an axial slice")
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
    for name, (low, high) in spec.plausible_ranges.items():
        measurement = measurements.get(name)
        if measurement is not None and not low <= measurement.value <= high:
            flags.append(f"{name.replace('_', ' ')} {measurement.value:.1f} {measurement.unit} is outside the "
                         f"plausible range {low:g}–{high:g}")
    return flags
