"""The vertebral-level finder on synthetic spines of known anatomy (typical and transitional,
cropped) and on the real abdominal CT volume beside the repository."""

from __future__ import annotations

import numpy as np
import pytest

from radiomark.errors import InputError
from radiomark.image import Image
from radiomark.phantoms.spine import spine_phantom
from radiomark.transforms.vertebral_levels import find_level
from tests.helpers import shared_data


@pytest.fixture(scope="module")
def typical():
    return spine_phantom()


def test_typical_anatomy_is_counted_from_both_ends_and_agrees(typical):
    result = find_level(typical.image)
    assert abs(result.slice_index - typical.centres["L3"]) <= 2  # 2 mm slices
    assert (result.anchor, result.confidence, result.warnings) == ("sacrum", "high", ())
    found = {v.name: v.centre for v in result.vertebrae}
    for name in ("L5", "L4", "L2", "L1", "T12"):
        assert abs(found[name] - typical.centres[name]) <= 2, name


def test_other_levels_are_found_when_asked(typical):
    for level in ("L1", "T12"):
        assert abs(find_level(typical.image, level).slice_index - typical.centres[level]) <= 2


@pytest.mark.parametrize("anatomy", [{"lumbar": 6}, {"rib_pairs": 11}, {"rib_pairs": 13}])
def test_transitional_anatomy_is_flagged_not_guessed_quietly(anatomy):
    result = find_level(spine_phantom(**anatomy).image)
    assert result.confidence == "low"
    assert any("uncertain" in warning for warning in result.warnings)


def test_without_the_pelvis_the_count_comes_from_the_last_rib():
    phantom = spine_phantom(crop_mm=(100, 400))
    result = find_level(phantom.image)
    assert (result.anchor, result.confidence) == ("ribs", "medium")
    assert abs(result.slice_index - phantom.centres["L3"]) <= 2


def test_a_level_outside_the_volume_is_not_invented():
    result = find_level(spine_phantom(crop_mm=(0, 150)).image)
    assert result.slice_index is None
    assert any("L3 was not found" in warning for warning in result.warnings)


def test_a_short_slab_gives_its_middle_slice_with_no_confidence():
    phantom = spine_phantom(crop_mm=(150, 190))
    result = find_level(phantom.image)
    assert result.slice_index == phantom.image.shape[0] // 2
    assert result.confidence == "none" and "slab" in result.warnings[0]


def test_a_flipped_volume_gives_the_same_slice_in_its_own_order(typical):
    image = typical.image
    flipped = Image(image.array[::-1], image.spacing_mm, image.origin_mm,
                    image.direction @ np.diag([-1.0, 1.0, 1.0]))
    assert find_level(flipped).slice_index == image.shape[0] - 1 - find_level(image).slice_index


def test_bad_requests_are_refused(typical):
    with pytest.raises(InputError, match="unknown level"):
        find_level(typical.image, "L7")
    sagittal = Image(typical.image.array, typical.image.spacing_mm, direction=np.eye(3))
    with pytest.raises(InputError, match="axial"):
        find_level(sagittal)


def test_the_real_abdominal_ct_volume():
    """TotalSegmentator's vertebra labels (example_seg, the top 30 slices of example_ct: slices
    82-111) put L2 at 82-91 and T12 at 97-111; the disc dips of the scan (read by eye on the
    sagittal picture) put the L3 body at slices 67-80."""
    from radiomark.io import read_image

    result = find_level(read_image(shared_data("ct-abdomen-totalseg/example_ct.nii.gz")))
    assert 68 <= result.slice_index <= 79
    found = {v.name: v.centre for v in result.vertebrae}
    assert 97 <= found["T12"] <= 111 and 80 <= found["L2"] <= 92


def test_canonical_z_inverts_to_input_index():
    import numpy as np

    from radiomark.transforms.vertebral_levels import LevelResult

    for flipped in (False, True):
        result = LevelResult("L3", 3, (), "none", "none", profile=np.zeros(10), flipped_z=flipped)
        assert [result.to_input_index(result.canonical_z(k)) for k in range(10)] == list(range(10))
    assert LevelResult("L3", 3, (), "none", "none", profile=np.zeros(10), flipped_z=True).canonical_z(3) == 6
