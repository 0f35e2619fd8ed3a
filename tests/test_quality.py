import numpy as np

from radiomark.biomarkers.body_composition import measure_body_composition
from radiomark.image import Image, LabelMap
from radiomark.phantoms import generate_case
from radiomark.quality import quality_flags
from radiomark.recipes import load_recipe

RECIPE = load_recipe("sarcopenia")


def test_a_clean_phantom_raises_no_flag():
    case = generate_case("sarcopenia", 4)
    measures = measure_body_composition(case.image, case.labels, 1.7, 70)
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
    measures = measure_body_composition(case.image, small, 1.7, 70)
    flags = quality_flags(RECIPE, thick, case.labels, small, measures)
    assert "slice thickness 8 mm exceeds 5 mm" in flags
    assert any(f.startswith("post-processing removed 100 % of the predicted subcutaneous fat") for f in flags)
    assert any(f.startswith("skeletal muscle area") and "outside the plausible range 40–350" in f for f in flags)
    assert quality_flags(RECIPE, coronal, None, LabelMap.like(coronal, case.labels.array, case.labels.labels),
                         {})[0] == "the image is coronal, the recipe expects an axial slice"
