import numpy as np

from radiomark.biomarkers.body_composition import measure_body_composition
from radiomark.image import Image, LabelMap
from radiomark.phantoms import generate_case
from radiomark.quality import quality_flags
from radiomark.recipes import load_recipe, measure_parameters

SARCOPENIA = measure_parameters(load_recipe("sarcopenia"))

RECIPE = load_recipe("sarcopenia")


def test_a_clean_phantom_raises_no_flag():
    case = generate_case("sarcopenia", 4)
    measures = measure_body_composition(case.image, case.labels, SARCOPENIA, 1.7, 70)
    assert quality_flags(RECIPE, case.image, case.labels, case.labels, measures) == []


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
    flags = quality_flags(RECIPE, thick, case.labels, small, measures)
    assert "slice thickness 8 mm exceeds 5 mm" in flags
    assert any(f.startswith("post-processing removed 100 % of the predicted subcutaneous fat") for f in flags)
    assert any(f.startswith("skeletal muscle area") and "outside the plausible range 40–350" in f for f in flags)
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
    assert quality_flags(recipe, case.image, one_lung, one_lung, measures) == ["nothing segmented for: left lung"]
