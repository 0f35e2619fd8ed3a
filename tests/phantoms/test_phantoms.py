"""Phantoms are deterministic, their truth follows from their masks, and they survive DICOM."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radiomark.errors import InputError, RecipeError
from radiomark.io import read_image
from radiomark.io.nifti import read_nifti
from radiomark.phantoms import generate_case, write_case
from radiomark.recipes.registry import entries, names

ALL = names()


@pytest.mark.parametrize("recipe", ALL)
def test_same_seed_same_case_other_seed_other_case(recipe):
    first, again, other = generate_case(recipe, 7), generate_case(recipe, 7), generate_case(recipe, 8)
    for a, b in zip(first.series, again.series, strict=True):
        np.testing.assert_array_equal(a.image.array, b.image.array)
    np.testing.assert_array_equal(first.labels.array, again.labels.array)
    assert first.truth == again.truth
    assert not np.array_equal(first.image.array, other.image.array)


@pytest.mark.parametrize("recipe", ALL)
def test_labels_are_uint8_on_the_primary_grid_and_all_present(recipe):
    case = generate_case(recipe, 1)
    assert case.labels.array.dtype == np.uint8
    assert case.labels.geometry_equal(case.image)
    assert set(np.unique(case.labels.array)) == {0, *case.labels.labels}


def test_sarcopenia_truth_is_mask_area_times_pixel_area():
    case = generate_case("sarcopenia", 3)
    pixel_cm2 = np.prod(case.image.spacing_mm) / 100
    muscle = case.labels.mask("skeletal_muscle")
    assert case.truth["sma_cm2"] == pytest.approx(muscle.sum() * pixel_cm2)
    assert case.truth["sat_area_cm2"] == pytest.approx(case.labels.mask("subcutaneous_fat").sum() * pixel_cm2)
    assert case.truth["vat_area_cm2"] == pytest.approx(case.labels.mask("visceral_fat").sum() * pixel_cm2)
    assert case.truth["muscle_mean_hu"] == pytest.approx(case.image.array[muscle].mean())
    assert abs(case.truth["muscle_mean_hu"] - case.truth["muscle_design_hu"]) < 1.0
    height = case.clinical["height_m"]
    assert case.truth["smi_cm2_m2"] == pytest.approx(case.truth["sma_cm2"] / height**2)
    assert 50 < case.truth["sma_cm2"] < 400  # a plausible adult L3 muscle area
    fat = case.image.array[case.labels.mask("subcutaneous_fat")].mean()
    assert -130 < fat < -80


def test_brain_truth_gwr_follows_from_mean_hu_and_edema_lowers_it():
    case = generate_case("brain-gwr", 2)
    t = case.truth
    for side in ("right", "left"):
        expected = ((t[f"mean_hu_caudate_{side}"] + t[f"mean_hu_putamen_{side}"])
                    / (t[f"mean_hu_internal_capsule_{side}"] + t["mean_hu_corpus_callosum"]))
        assert t[f"gwr_bg_{side}"] == pytest.approx(expected)
        mask = case.labels.mask(f"putamen_{side}")
        assert t[f"mean_hu_putamen_{side}"] == pytest.approx(case.image.array[mask].mean())
    cases = [generate_case("brain-gwr", seed) for seed in range(12)]
    edema = np.array([c.truth["edema_fraction"] for c in cases])
    gwr = np.array([c.truth["design_gwr_bg_right"] for c in cases])
    assert np.corrcoef(edema, gwr)[0, 1] < -0.6  # baseline grey/white levels vary too
    assert 1.15 < gwr.max() < 1.6 and 1.0 < gwr.min() < 1.25  # the clinically relevant range


def test_brain_landmarks_lie_on_the_anatomical_sides():
    case = generate_case("brain-gwr", 4)
    middle = case.image.shape[2] / 2
    for structure in ("caudate", "putamen", "internal_capsule"):
        right = np.argwhere(case.labels.mask(f"{structure}_right"))[:, 2].mean()
        left = np.argwhere(case.labels.mask(f"{structure}_left"))[:, 2].mean()
        assert right < middle < left  # columns run towards the patient's left (+x in LPS)


def test_neonatal_truth_and_rds_density():
    cases = [generate_case("neonatal-rds", seed) for seed in range(8)]
    for case in cases:
        pixel_cm2 = np.prod(case.image.spacing_mm) / 100
        assert case.truth["right_lung_area_cm2"] == pytest.approx(case.labels.mask("right_lung").sum() * pixel_cm2)
        assert case.truth["lung_area_cm2"] == pytest.approx(
            case.truth["right_lung_area_cm2"] + case.truth["left_lung_area_cm2"])
    density = {c.truth["rds"]: c.image.array[c.labels.array > 0].mean() for c in cases}
    assert set(density) == {0, 1} and density[1] > density[0] + 300


def test_nigra_truth_follows_its_definitions():
    case = generate_case("nigra", 5)
    echo1 = case.image.array.astype(float)
    qsm = next(s.image for s in case.series if s.name == "qsm").array
    nigra = case.labels.array == 1
    nigra |= case.labels.array == 2
    crus = np.isin(case.labels.array, (3, 4))
    values = echo1[nigra]
    mean, sd = values.mean(), values.std()
    assert case.truth["nm_volume_ratio"] == pytest.approx((values > mean + 3 * sd).sum() / (values > mean + sd).sum())
    assert case.truth["nm_contrast_ratio"] == pytest.approx((mean - echo1[crus].mean()) / echo1[crus].mean())
    assert case.truth["sn_volume_mm3"] == pytest.approx(nigra.sum() * np.prod(case.image.spacing_mm))
    above = qsm[nigra][qsm[nigra] > 0.015]
    assert case.truth["qsm_mean_above_0015_ppm"] == pytest.approx(above.mean())
    slices_with_sn = np.flatnonzero(nigra.any(axis=(1, 2)))
    assert len(slices_with_sn) == 3 and np.all(np.diff(slices_with_sn) == 1)
    assert [s.image.metadata["echo_time_ms"] for s in case.series[:5]] == [5.0, 15.0, 25.0, 35.0, 45.0]
    assert np.all(case.series[0].image.array[nigra].mean() > case.series[2].image.array[nigra].mean())


def test_disc_truth_measures_the_thecal_sac():
    case = generate_case("disc-herniation", 6)
    levels = case.truth["levels"]
    assert list(levels) == ["L5-S1", "L4-L5", "L3-L4", "L2-L3", "L1-L2"]
    spacing = case.image.spacing_mm[1]
    for level in levels.values():
        sac = np.isin(case.labels.array[level["slice_index"]], (2, 3))
        columns = np.flatnonzero(sac.any(axis=0))
        assert level["thecal_sac_width_mm"] == pytest.approx((np.ptp(columns) + 1) * spacing)
        assert level["thecal_sac_area_mm2"] == pytest.approx(sac.sum() * spacing**2)
    herniated = [v["thecal_sac_area_mm2"] for v in levels.values() if v["herniation"]]
    healthy = [v["thecal_sac_area_mm2"] for v in levels.values() if not v["herniation"]]
    if herniated and healthy:
        assert np.mean(herniated) < np.mean(healthy)  # a protrusion indents the sac


@pytest.mark.parametrize("recipe", ALL)
def test_dicom_output_reads_back_to_the_phantom(tmp_path, recipe):
    case = generate_case(recipe, 1)
    folder = write_case(case, tmp_path, "dicom")
    for item in case.series:
        image = read_image(folder / "dicom" / item.name)
        np.testing.assert_allclose(image.array, item.image.array, rtol=0, atol=1e-6)
        assert image.geometry_equal(item.image, atol=1e-6)
    labels = read_nifti(folder / "labels.nii.gz", labels=case.labels.labels)
    np.testing.assert_array_equal(labels.array, case.labels.array)
    document = json.loads((folder / "truth.json").read_text())
    assert document["recipe"] == recipe and document["data_kind"] == "synthetic phantom"


def test_png_is_for_radiographs_only_and_leaves_nothing_on_refusal(tmp_path):
    folder = write_case(generate_case("neonatal-rds", 0), tmp_path, "png")
    assert (folder / "cxr.png").exists()
    with pytest.raises(InputError, match="--format png would lose the physical values of sarcopenia"):
        write_case(generate_case("sarcopenia", 0), tmp_path, "png")
    with pytest.raises(InputError, match="png holds 2D radiographs only; use dicom or nifti for nigra"):
        write_case(generate_case("nigra", 0), tmp_path, "png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neonatal-rds-0000"]


def test_unknown_recipe_suggests_the_closest():
    with pytest.raises(RecipeError, match="did you mean 'sarcopenia'"):
        generate_case("sarcopenia2", 0)
    assert all(callable(entry.module("phantom").generate) for entry in entries().values())
