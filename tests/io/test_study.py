"""A study's channels and QSM map: echoes ranked by echo time, from DICOM or NIfTI."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image
from radiomark.io.nifti import write_nifti
from radiomark.io.study import read_study
from radiomark.phantoms import generate_case, write_case
from radiomark.recipes import load_recipe
from radiomark.recipes.series_schema import SeriesSelector

NIGRA = load_recipe("nigra")


@pytest.fixture(scope="module")
def dicom_case(tmp_path_factory):
    return write_case(generate_case("nigra", 3), tmp_path_factory.mktemp("nigra"), "dicom")


def test_dicom_echoes_are_ranked_by_echo_time_and_the_qsm_map_is_found(dicom_case):
    study = read_study(dicom_case, NIGRA)
    assert [image.metadata["echo_time_ms"] for image in study.channels] == [5.0, 15.0, 25.0]
    case = generate_case("nigra", 3)
    for image, series in zip(study.channels, case.series, strict=False):
        np.testing.assert_array_equal(image.array, series.image.array)
    assert study.qsm is not None and study.qsm.geometry_equal(study.image, atol=1e-3)
    np.testing.assert_allclose(study.qsm.array, case.series[-1].image.array, atol=1e-6)
    # Echoes 2 and 4 only, in that order.
    picked = read_study(dicom_case, NIGRA.model_copy(update={"inputs": NIGRA.inputs.model_copy(
        update={"echoes": (4, 2)})}))
    assert [image.metadata["echo_time_ms"] for image in picked.channels] == [35.0, 15.0]


def test_too_few_echoes_is_a_clear_error(dicom_case, tmp_path):
    folder = tmp_path / "two"
    shutil.copytree(dicom_case / "dicom" / "echo1", folder / "echo1")
    shutil.copytree(dicom_case / "dicom" / "echo2", folder / "echo2")
    with pytest.raises(InputError, match=r"needs echo ranks \[1, 2, 3\] but 2 image\(s\) were found"):
        read_study(folder, NIGRA)


def test_nifti_echo_files_bids_names_and_errors(tmp_path):
    case = generate_case("nigra", 4)
    folder = tmp_path / "bids"
    folder.mkdir()
    for number, series in enumerate(case.series[:3], start=1):
        write_nifti(series.image, folder / f"sub-01_echo-{number}_GRE.nii.gz")
    write_nifti(case.series[-1].image, folder / "sub-01_QSM.nii.gz")
    study = read_study(folder, NIGRA)
    np.testing.assert_array_equal(study.channels[2].array, case.series[2].image.array)
    assert study.qsm is not None
    (folder / "sub-01_echo-2_GRE.nii.gz").unlink()
    with pytest.raises(InputError, match=r"echo files numbered \[1, 3\]; expected \[1, 2, 3\]"):
        read_study(folder, NIGRA)
    with pytest.raises(InputError, match="needs echo ranks .* 1 image"):
        read_study(folder / "sub-01_echo-1_GRE.nii.gz", NIGRA)


def test_channels_must_share_one_grid(tmp_path):
    case = generate_case("nigra", 5)
    write_nifti(case.series[0].image, tmp_path / "echo1.nii.gz")
    write_nifti(case.series[1].image, tmp_path / "echo2.nii.gz")
    moved = case.series[2].image
    write_nifti(Image(np.asarray(moved.array), moved.spacing_mm, origin_mm=(0.0, 0.0, 9.0)), tmp_path / "echo3.nii.gz")
    with pytest.raises(GeometryError, match="input image 3 .* is not on the grid of image 1"):
        read_study(tmp_path, NIGRA)


def test_a_qsm_map_on_another_grid_is_resampled_onto_the_echoes(tmp_path):
    case = generate_case("nigra", 6)
    for number, series in enumerate(case.series[:3], start=1):
        write_nifti(series.image, tmp_path / f"echo{number}.nii.gz")
    qsm = case.series[-1].image
    # The same map, every second column only: twice the column spacing.
    coarse = Image(np.asarray(qsm.array)[:, :, ::2], (*qsm.spacing_mm[:2], 2 * qsm.spacing_mm[2]), qsm.origin_mm)
    write_nifti(coarse, tmp_path / "qsm.nii.gz")
    study = read_study(tmp_path, NIGRA)
    assert study.qsm is not None and study.qsm.geometry_equal(study.image, atol=1e-3)
    np.testing.assert_allclose(study.qsm.array[:, :, ::2][:, :, :-1], np.asarray(qsm.array)[:, :, ::2][:, :, :-1],
                               atol=1e-6)


def test_negated_selection_rules(dicom_case):
    from radiomark.io.dicom import scan_dicom

    found = scan_dicom(dicom_case)
    magnitudes = [SeriesSelector.parse(condition) for condition in NIGRA.series.require]
    assert sorted(s.description for s in found if not any(m.failed_rules(s) for m in magnitudes)) == [
        f"gre_me_nm echo {n}" for n in range(1, 6)]
    assert [s.description for s in found if not SeriesSelector.parse("description!=gre_me_nm echo 1,"
                                                                      "description!~echo").failed_rules(s)] == [
        "QSM ppm"]
    rules = SeriesSelector.parse("modality=MR, description!~qsm|phase ,modality!=CT")
    assert str(rules) == "modality=MR,description!~qsm|phase,modality!=CT"
    assert [rule.negated for rule in rules.rules] == [False, True, True]
    with pytest.raises(InputError, match="is not of the form field=value"):
        SeriesSelector.parse("description~T2")
