"""Inputs of round 2 whose outcome needs more than "reads or fails": the values read, the warning
given, the folder walk that terminates. The corpus (``corpus.py``) holds the rest."""

from __future__ import annotations

import os
import shutil
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest

from radiomark.io import read_image
from radiomark.io.dicom import scan_dicom
from radiomark.io.nifti import read_nifti
from tests.helpers import pydicom_file
from tests.robustness.corpus import _garbage_high_bits, _without_preamble


def test_garbage_in_unused_high_bits_is_ignored(tmp_path):
    path = _garbage_high_bits(tmp_path / "garbage.dcm")
    original = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    expected = np.clip(original.pixel_array.astype(np.float64), 0, 4095) * float(original.RescaleSlope) \
        + float(original.RescaleIntercept)
    np.testing.assert_array_equal(read_image(path).array, expected)


def test_a_file_without_preamble_is_read_with_a_warning(tmp_path):
    path = _without_preamble(tmp_path / "old.dcm")
    with pytest.warns(UserWarning, match="no DICOM preamble / file meta header; read as"):
        image = read_image(path)
    reference = read_image(pydicom_file("CT_small.dcm"))
    np.testing.assert_array_equal(image.array, reference.array)
    assert image.geometry_equal(reference)


def test_a_dicomdir_folder_is_walked_and_its_index_file_skipped(tmp_path):
    folder = shutil.copytree(pydicom_file("DICOMDIR").parent, tmp_path / "dicomdir")
    found = scan_dicom(folder)
    assert found and all("DICOMDIR" not in str(file.path) for series in found for file in series.files)


def test_a_symlink_loop_does_not_hang_the_folder_walk(tmp_path):
    inner = tmp_path / "study" / "sub"
    inner.mkdir(parents=True)
    shutil.copy(pydicom_file("CT_small.dcm"), inner / "a.dcm")
    os.symlink("..", inner / "back")
    os.symlink(tmp_path / "study", tmp_path / "study" / "self")
    (series,) = scan_dicom(tmp_path / "study")
    assert len(series.files) == 1


def test_an_unreadable_file_in_a_folder_is_skipped_with_the_others_read(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions cannot make a file unreadable to this process")
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(pydicom_file("CT_small.dcm"), folder / "a.dcm")
    locked = folder / "b.dcm"
    shutil.copy(pydicom_file("MR_small.dcm"), locked)
    locked.chmod(0)
    try:
        found = scan_dicom(folder)
    finally:
        locked.chmod(0o644)
    assert [series.modality for series in found] == ["CT"]


def test_conflicting_nifti_qform_and_sform_use_the_sform_and_say_so(tmp_path):
    image = nib.Nifti1Image(np.zeros((4, 4, 3), np.int16), np.eye(4))
    image.set_qform(np.diag([2.0, 2.0, 2.0, 1.0]), 1)
    image.set_sform(np.diag([1.0, 1.0, 3.0, 1.0]), 1)
    nib.save(image, tmp_path / "both.nii.gz")
    with pytest.warns(UserWarning, match="qform and sform disagree; the sform"):
        read = read_nifti(tmp_path / "both.nii.gz")
    assert read.spacing_mm == pytest.approx((3.0, 1.0, 1.0))
    agreeing = nib.Nifti1Image(np.zeros((4, 4, 3), np.int16), np.eye(4))
    nib.save(agreeing, tmp_path / "one.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_nifti(tmp_path / "one.nii.gz")
