"""Quality control: flags under which a result deserves a second look (:func:`quality_flags`),
and the stricter ones under which its decision is withheld (:func:`withholding_reasons`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.image import Image, LabelMap
from radiomark.recipes.schema import Anatomy, Recipe


@dataclass(frozen=True)
class Review:
    """The quality review of one result: every flag (the withholding reasons among them), the
    reasons its decisions are withheld, and the segmentation confidence (None for a given mask)."""

    flags: list[str]
    withheld: list[str]
    confidence: float | None


def review(recipe: Recipe, image: Image, predicted: LabelMap | None, probabilities: np.ndarray | None,
           final: LabelMap, measurements: Mapping[str, Measurement], rotation_fired: bool = False) -> Review:
    """:func:`quality_flags` and :func:`withholding_reasons` of a result; ``predicted`` and
    ``probabilities`` are the network's label map and probabilities before post-processing (None
    for a given mask)."""
    confidence = (segmentation_confidence(probabilities, predicted)
                  if predicted is not None and probabilities is not None else None)
    withheld = withholding_reasons(recipe, image, final, measurements, confidence)
    return Review(quality_flags(recipe, image, predicted, final, measurements, rotation_fired) + withheld,
                  withheld, confidence)


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
    for name, lowest in spec.min_solidity.items():
        solidity = _solidity(final.mask(name))
        if solidity is not None and solidity < lowest:
            flags.append(f"the {name.replace('_', ' ')} outline is irregular (solidity {solidity:.2f} < {lowest:g}): "
                         "the mask may stop where an opacity starts; check the overlay")
    return flags


def withholding_reasons(recipe: Recipe, image: Image, labels: LabelMap, measurements: Mapping[str, Measurement],
                        confidence: float | None = None) -> list[str]:
    """Why the result is implausible, so that no decision may be drawn from it (empty: none).

    Checks, each from the recipe's ``quality``: the anatomy of a CT image (body part tag, body
    width, tissue shares), a structure segmented nowhere, a structure floating where it cannot
    lie (``islands``), a measurement outside its plausible range, and the segmentation
    ``confidence`` (:func:`segmentation_confidence`; None for a given mask) below ``min_confidence``.
    """
    spec = recipe.quality
    reasons = anatomy_reasons(spec.anatomy, image) if spec.anatomy is not None else []
    empty = [name.replace("_", " ") for value, name in labels.labels.items() if not np.any(labels.array == value)]
    if empty:
        reasons.append(f"nothing segmented for: {', '.join(empty)}")
    for name, island in spec.islands.items():
        share = island_share(labels, name, island.within)
        if share > island.at_most:
            reasons.append(f"{100 * share:.0f} % of the {name.replace('_', ' ')} lies in pieces surrounded by "
                           f"{island.within.replace('_', ' ')} (at most {100 * island.at_most:g} % expected): "
                           "organs or bowel taken for it?")
    for name, (low, high) in spec.plausible_ranges.items():
        measurement = measurements.get(name)
        if measurement is not None and not low <= measurement.value <= high:
            reasons.append(f"{name.replace('_', ' ')} {measurement.value:.1f} {measurement.unit} is outside the "
                           f"plausible range {low:g}–{high:g}")
    if confidence is not None and spec.min_confidence is not None and confidence < spec.min_confidence:
        reasons.append(f"segmentation confidence {confidence:.2f} is below {spec.min_confidence:g} (the network "
                       "is unsure where the structures are): check the overlay")
    return reasons


def island_share(labels: LabelMap, name: str, within: str) -> float:
    """Share of structure ``name``'s area in connected pieces (8-connected in 2D, 26 in 3D) whose
    outline (the pixels next to the piece) lies at least 90 % in structure ``within``; 0 when
    ``name`` is empty."""
    from scipy import ndimage

    mask, around = labels.mask(name), labels.mask(within)
    if not mask.any():
        return 0.0
    full = np.ones((3,) * mask.ndim, dtype=bool)
    pieces, count = ndimage.label(mask, structure=full)
    floating = 0
    for index, box in enumerate(ndimage.find_objects(pieces), start=1):
        window = tuple(slice(max(0, b.start - 1), b.stop + 1) for b in box)
        piece = pieces[window] == index
        outline = ndimage.binary_dilation(piece, structure=full) & ~piece
        if around[window][outline].mean() >= 0.9:
            floating += int(piece.sum())
    return floating / int(mask.sum())


def anatomy_reasons(spec: Anatomy, image: Image) -> list[str]:
    """Why a CT ``image`` does not look like the part of the body the recipe measures: a
    BodyPartExamined tag it refuses, a body narrower or wider than ``body_width_mm`` (left-right,
    the last array axis), a tissue share below its minimum. Non-CT images and images without a
    pixel size are not checked."""
    if image.metadata.get("modality") != "CT" or image.spacing_mm is None:
        return []
    reasons = []
    part = str(image.metadata.get("body_part") or "").upper()
    if part and part in spec.refused_body_parts:
        reasons.append(f"the image is of the {part.lower()} (BodyPartExamined), which this recipe does not measure")
    body = _body(image)
    if not body.any():
        return [*reasons, "no body found in the image (nothing above -500 HU)"]
    columns = np.nonzero(body.reshape(-1, body.shape[-1]).any(axis=0))[0]
    width = (columns[-1] - columns[0] + 1) * image.spacing_mm[-1]
    if spec.body_width_mm is not None and not spec.body_width_mm[0] <= width <= spec.body_width_mm[1]:
        reasons.append(f"the body is {width / 10:.0f} cm wide, outside {spec.body_width_mm[0] / 10:g}–"
                       f"{spec.body_width_mm[1] / 10:g} cm for this recipe's part of the body")
    values = np.asarray(image.array)[body]
    for name, tissue in spec.tissues.items():
        share = float(np.mean((values >= tissue.hu[0]) & (values <= tissue.hu[1])))
        if share < tissue.at_least:
            reasons.append(f"{100 * share:.1f} % of the body is {name.replace('_', ' ')} ({tissue.hu[0]:g} to "
                           f"{tissue.hu[1]:g} HU), expected at least {100 * tissue.at_least:g} %")
    return reasons


def _body(image: Image) -> np.ndarray:
    """The body of a CT image: the largest connected region above -500 HU after an opening with a
    5 mm radius (which drops the table and cables), the opening then undone inside the region."""
    from scipy import ndimage

    from radiomark.postprocess import largest_component

    above = np.asarray(image.array) > -500
    assert image.spacing_mm is not None  # anatomy_reasons checks
    radius = [max(1, round(5.0 / s)) for s in image.spacing_mm]
    grid = np.ogrid[tuple(slice(-r, r + 1) for r in radius)]
    ball = sum((g / r) ** 2 for g, r in zip(grid, radius, strict=True)) <= 1.0
    largest = largest_component(ndimage.binary_opening(above, structure=ball))
    return above & ndimage.binary_dilation(largest, structure=ball)


def segmentation_confidence(probabilities: np.ndarray, labels: LabelMap) -> float | None:
    """1 - the mean binary entropy (bits) of the network's probability of the predicted structure,
    over the pixels predicted as any structure: 1 when the network is certain everywhere it
    segmented, 0 when every such pixel sat at p = 0.5. ``probabilities``: ``[labels, *shape]``
    sigmoid outputs on the label map's grid, in the order of ``labels.labels``. None when nothing
    was segmented."""
    predicted = np.asarray(labels.array)
    inside = predicted > 0
    if not inside.any():
        return None
    lookup = np.zeros(max(labels.labels) + 1, dtype=np.intp)  # label value → row of ``probabilities``
    lookup[list(labels.labels)] = np.arange(len(labels.labels))
    index = lookup[predicted[inside]]
    p = np.clip(np.asarray(probabilities).reshape(len(labels.labels), -1)[:, inside.ravel()][
        index, np.arange(index.size)], 1e-6, 1 - 1e-6)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return float(1.0 - entropy.mean())


def _solidity(mask: np.ndarray) -> float | None:
    """Area / convex-hull area of the largest piece (8-connected) of a 2D ``mask``, the hull taken
    around the pixels' corners; None when it is empty. (scikit-image's ``regionprops`` counts the
    pixels inside that hull instead, which took 0.3 s of a 1955 × 1841 radiograph's run; the two
    agree within 0.01 on lungs, ``tests/test_quality.py``.)"""
    from scipy import ndimage
    from scipy.spatial import ConvexHull

    from radiomark.postprocess import bounding_box, largest_component

    box = bounding_box(mask)
    if box is None:
        return None
    largest = largest_component(mask[box], np.ones((3, 3)))
    edge = np.argwhere(largest & ~ndimage.binary_erosion(largest))
    corners = (edge[:, None, :] + np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])).reshape(-1, 2)
    return float(np.count_nonzero(largest) / ConvexHull(corners).volume)


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
