from dataclasses import replace

import numpy as np
import pytest

from radiomark.biomarkers.body_composition import measure_body_composition
from radiomark.image import Image, LabelMap
from radiomark.phantoms import generate_case
from radiomark.quality import (
    anatomy_reasons,
    island_share,
    quality_flags,
    review,
    segmentation_confidence,
    withholding_reasons,
)
from radiomark.recipes import load_recipe, measure_parameters

SARCOPENIA = measure_parameters(load_recipe("sarcopenia"))

RECIPE = load_recipe("sarcopenia")


def test_a_clean_phantom_raises_no_flag():
    case = generate_case("sarcopenia", 4)
    measures = measure_body_composition(case.image, case.labels, SARCOPENIA, 1.7, 70)
    checked = review(RECIPE, case.image, case.labels, None, case.labels, measures)
    assert checked.flags == [] and checked.withheld == [] and checked.confidence is None


def test_each_check_fires_when_its_condition_holds():
    case = generate_case("sarcopenia", 4)
    thick = Image(array=case.image.array, spacing_mm=case.image.spacing_mm, origin_mm=case.image.origin_mm,
                  metadata={"slice_thickness_mm": 8.0})
    coronal = Image(array=case.image.array, spacing_mm=case.image.spacing_mm,
                    direction=np.array([[0.0, 1.0], [0.0, 0.0], [-1.0, 0.0]]))
    tiny = np.zeros(case.image.shape, dtype=np.uint8)
    tiny[100:110, 100:110] = 1
    small = LabelMap.like(case.image, tiny, case.labels.labels)
    measures = measure_body_composition(case.image, small, SARCOPENIA, 1.7, 70)
    checked = review(RECIPE, thick, case.labels, None, small, measures)
    assert "slice thickness 8 mm exceeds 5 mm" in checked.flags
    assert any(f.startswith("post-processing removed 100 % of the predicted subcutaneous fat") for f in checked.flags)
    implausible = [f for f in checked.withheld if f.startswith("skeletal muscle area")]
    assert implausible and "outside the plausible range 40–350" in implausible[0] and implausible[0] in checked.flags
    assert "nothing segmented for: subcutaneous fat, visceral fat" in checked.withheld
    assert quality_flags(RECIPE, coronal, None, LabelMap.like(coronal, case.labels.array, case.labels.labels),
                         {})[0] == "the image is coronal, the recipe expects an axial slice"


def test_radiograph_checks_side_by_side_lungs_and_unknown_spacing():
    from radiomark.biomarkers.lung_area import measure_lung_area

    recipe = load_recipe("neonatal-rds")
    case = generate_case("neonatal-rds", 2)
    measures = measure_lung_area(case.labels, measure_parameters(load_recipe("neonatal-rds")))
    assert quality_flags(recipe, case.image, case.labels, case.labels, measures) == []  # upright phantom
    rotated_image = Image(np.rot90(case.image.array).copy(), case.image.spacing_mm)
    rotated = LabelMap.like(rotated_image, np.rot90(case.labels.array).copy(), case.labels.labels)
    flags = quality_flags(recipe, rotated_image, rotated, rotated, measures)
    assert any("not side by side" in flag for flag in flags), flags
    swapped = LabelMap.like(case.image, np.choose(case.labels.array, [0, 2, 1]).astype(np.uint8), case.labels.labels)
    assert any("not side by side" in f for f in quality_flags(recipe, case.image, swapped, swapped, measures))
    uncalibrated = Image(case.image.array, None)
    flags = quality_flags(recipe, uncalibrated, None, LabelMap.like(uncalibrated, case.labels.array,
                                                                    case.labels.labels), {})
    assert flags == ["pixel size unknown (no usable PixelSpacing / ImagerPixelSpacing): areas are in pixels; give "
                     "--spacing MM to have them in cm²"]
    one_lung = LabelMap.like(case.image, np.where(case.labels.array == 1, 1, 0).astype(np.uint8), case.labels.labels)
    assert quality_flags(recipe, case.image, one_lung, one_lung, measures) == []
    assert withholding_reasons(recipe, case.image, one_lung, measures) == ["nothing segmented for: left lung"]


def test_a_head_ct_slice_is_not_a_trunk_for_sarcopenia():
    head = generate_case("brain-gwr", 0).image
    head = replace(head.take_slice(head.shape[0] // 2), metadata={"modality": "CT", "body_part": "HEAD"})
    reasons = anatomy_reasons(RECIPE.quality.anatomy, head)
    assert reasons[0] == "the image is of the head (BodyPartExamined), which this recipe does not measure"
    assert reasons[1].startswith("the body is 13 cm wide, outside 20–75 cm")
    assert reasons[2].startswith("0.0 % of the body is fat")
    trunk = generate_case("sarcopenia", 4).image
    assert anatomy_reasons(RECIPE.quality.anatomy, trunk) == []
    assert anatomy_reasons(RECIPE.quality.anatomy, replace(trunk, metadata={"modality": "MR"})) == []  # CT only


def test_muscle_floating_in_visceral_fat_is_implausible():
    case = generate_case("sarcopenia", 4)
    assert island_share(case.labels, "skeletal_muscle", "visceral_fat") == 0.0
    rows, columns = np.nonzero(case.labels.array == 3)
    centre = rows.mean().astype(int), columns.mean().astype(int)  # a "bowel loop" in the visceral fat
    distance = np.hypot(*np.indices(case.image.shape) - np.array(centre)[:, None, None])
    loop = distance < 12  # taken for muscle, wrapped in visceral fat
    wrapped = np.where(distance < 15, 3, case.labels.array)
    labelled = LabelMap.like(case.image, np.where(loop, 1, wrapped).astype(np.uint8), case.labels.labels)
    share = island_share(labelled, "skeletal_muscle", "visceral_fat")
    assert share == pytest.approx(loop.sum() / (labelled.array == 1).sum())
    reasons = withholding_reasons(RECIPE, case.image, labelled, {})
    assert reasons == [f"{100 * share:.0f} % of the skeletal muscle lies in pieces surrounded by visceral fat (at "
                       "most 5 % expected): organs or bowel taken for it?"]


def test_confidence_is_one_minus_the_mean_entropy_inside_the_structures():
    case = generate_case("sarcopenia", 4)
    labels = case.labels
    one_hot = np.stack([labels.array == value for value in labels.labels]).astype(float)
    sure = segmentation_confidence(np.clip(one_hot, 1e-6, 1), labels)
    assert sure == pytest.approx(1.0, abs=1e-3)
    assert segmentation_confidence(np.where(one_hot > 0, 0.5, 0.0), labels) == pytest.approx(0.0, abs=1e-6)
    empty = LabelMap.like(case.image, np.zeros(case.image.shape, np.uint8), labels.labels)
    assert segmentation_confidence(one_hot, empty) is None
    strict = RECIPE.model_copy(update={"quality": RECIPE.quality.model_copy(update={"min_confidence": 0.8})})
    assert withholding_reasons(strict, case.image, labels, {}, confidence=0.9) == []
    assert withholding_reasons(strict, case.image, labels, {}, confidence=0.5) == [
        "segmentation confidence 0.50 is below 0.8 (the network is unsure where the structures are): check the "
        "overlay"]


def test_a_lung_with_a_bite_is_flagged_and_a_lost_lung_withholds_the_decision():
    from radiomark.biomarkers.lung_area import measure_lung_area

    recipe = load_recipe("neonatal-rds")
    case = generate_case("neonatal-rds", 2)
    array = np.asarray(case.labels.array).copy()
    rows, columns = np.nonzero(array == 1)
    bite = (np.abs(np.indices(array.shape)[0] - rows.mean()) < np.ptp(rows) / 4) & \
        (np.indices(array.shape)[1] > columns.mean())  # the mask stops where an opacity starts
    array[bite & (array == 1)] = 0
    bitten = LabelMap.like(case.image, array, case.labels.labels)
    measures = measure_lung_area(bitten, measure_parameters(recipe))
    checked = review(recipe, case.image, bitten, None, bitten, measures)
    assert any(flag.startswith("the right lung outline is irregular (solidity") for flag in checked.flags)
    left_rows = np.nonzero(case.labels.array == 2)[0]
    cut = np.percentile(left_rows, 30)  # most of the left lung lost
    shrunk = np.where((case.labels.array == 2) & (np.indices(array.shape)[0] > cut), 0, case.labels.array)
    lost = LabelMap.like(case.image, shrunk.astype(np.uint8), case.labels.labels)
    ratio = measure_lung_area(lost, measure_parameters(recipe))
    assert ratio["right_left_lung_area_ratio"].value > 2.0
    assert any(reason.startswith("right left lung area ratio") and "plausible range 0.75–2" in reason
               for reason in review(recipe, case.image, lost, None, lost, ratio).withheld)
    clean = measure_lung_area(case.labels, measure_parameters(recipe))
    assert review(recipe, case.image, case.labels, None, case.labels, clean).flags == []


def test_solidity_agrees_with_scikit_image_on_lungs_and_concave_shapes():
    from skimage.measure import regionprops

    from radiomark.quality import _solidity

    labels = generate_case("neonatal-rds", 5).labels
    concave = np.zeros((60, 80), dtype=bool)
    concave[5:55, 5:20] = concave[40:55, 5:75] = True  # an L: solidity well below 1
    for mask in (labels.mask("right_lung"), labels.mask("left_lung"), concave):
        (piece,) = regionprops(mask.astype(np.uint8))
        assert _solidity(mask) == pytest.approx(piece.solidity, abs=0.01)
    assert _solidity(concave) < 0.7 and _solidity(np.zeros((4, 4), dtype=bool)) is None
