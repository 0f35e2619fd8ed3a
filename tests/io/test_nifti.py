"""NIfTI and SimpleITK conversions keep geometry; DICOM → Image → NIfTI → Image round trip."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image, LabelMap
from radiomark.io import read_image, write_image
from radiomark.io.nifti import read_nifti, write_nifti
from radiomark.io.sitk import image_from_sitk, image_to_sitk
from radiomark.phantoms import generate_case, write_case
from tests.helpers import pydicom_file, shared_data


def _assert_geometry(image: Image, reference: sitk.Image, atol: float) -> None:
    np.testing.assert_allclose(image.spacing_mm, reference.GetSpacing()[::-1], atol=atol, rtol=0)
    np.testing.assert_allclose(image.origin_mm, reference.GetOrigin(), atol=atol, rtol=0)
    direction = np.asarray(reference.GetDirection()).reshape(3, 3)[:, ::-1]
    np.testing.assert_allclose(image.direction, direction, atol=atol, rtol=0)


def _dicom_round_trip(folder, tmp_path) -> None:
    reference = sitk.ImageSeriesReader()
    reference.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    reference_image = reference.Execute()
    image = read_image(folder)
    _assert_geometry(image, reference_image, 1e-5)
    write_image(image, tmp_path / "volume.nii.gz")
    again = read_nifti(tmp_path / "volume.nii.gz")
    _assert_geometry(again, reference_image, 1e-5)
    _assert_geometry(again, sitk.ReadImage(str(tmp_path / "volume.nii.gz")), 1e-5)
    np.testing.assert_array_equal(again.array, image.array)


@pytest.mark.data
def test_real_ct_round_trip_dicom_nifti_keeps_geometry(tmp_path):
    _dicom_round_trip(shared_data("ct-abdomen-totalseg/example_ct_dicom"), tmp_path)


def test_oblique_phantom_round_trip_dicom_nifti_keeps_geometry(tmp_path):
    case = generate_case("disc-herniation", 2)  # includes a sagittal series
    root = write_case(case, tmp_path / "case", "dicom") / "dicom"
    _dicom_round_trip(root / "t2_sagittal", tmp_path)
    _dicom_round_trip(root / "t2_axial", tmp_path)


def test_single_slice_round_trip_reads_back_as_2d(tmp_path):
    path = pydicom_file("CT_small.dcm")
    image = read_image(path)
    write_image(image, tmp_path / "slice.nii.gz")
    reference = sitk.ReadImage(str(path))  # SimpleITK reads a slice as a one-slice volume
    from_nifti = sitk.ReadImage(str(tmp_path / "slice.nii.gz"))
    assert from_nifti.GetSize() == reference.GetSize()
    np.testing.assert_allclose(from_nifti.GetOrigin(), reference.GetOrigin(), atol=1e-5)
    np.testing.assert_allclose(from_nifti.GetSpacing(), reference.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(from_nifti.GetDirection(), reference.GetDirection(), atol=1e-6)
    again = read_nifti(tmp_path / "slice.nii.gz")
    assert again.ndim == 2 and again.geometry_equal(image)
    np.testing.assert_array_equal(again.array, image.array)


def test_nifti_is_ras_on_disk():
    image = Image(array=np.zeros((2, 3, 4), dtype=np.int16), spacing_mm=(3.0, 2.0, 1.0), origin_mm=(10, 20, 30))
    from radiomark.io.nifti import image_to_nibabel

    affine = image_to_nibabel(image).affine
    np.testing.assert_allclose(affine[:3, 3], [-10, -20, 30])  # LPS (10, 20, 30) is RAS (-10, -20, 30)
    np.testing.assert_allclose(np.diag(affine)[:3], [-1.0, -2.0, 3.0])
    assert nib.aff2axcodes(affine) == ("L", "P", "S")


def test_label_maps_stay_uint8(tmp_path):
    labels = LabelMap(array=np.array([[[0, 1], [2, 3]]]), spacing_mm=(1.0, 1.0, 1.0), labels={1: "a"})
    write_nifti(labels, tmp_path / "labels.nii.gz")
    assert nib.load(tmp_path / "labels.nii.gz").get_data_dtype() == np.uint8
    again = read_nifti(tmp_path / "labels.nii.gz", labels={1: "a"})
    assert isinstance(again, LabelMap) and again.array.dtype == np.uint8


def test_singular_affine_and_bad_files_are_refused(tmp_path):
    flat = nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4))
    flat.set_qform(None, code=0)
    flat.set_sform(np.diag([1.0, 0.0, 1.0, 1.0]), code=2)
    nib.save(flat, tmp_path / "flat.nii.gz")
    with pytest.raises(GeometryError, match=r"flat\.nii\.gz: the NIfTI affine is singular"):
        read_nifti(tmp_path / "flat.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"junk\.nii\.gz: not a readable NIfTI file"):
        read_nifti(tmp_path / "junk.nii.gz")
    with pytest.raises(InputError, match="needs a .nii or .nii.gz suffix"):
        write_nifti(Image(array=np.zeros((2, 2)), spacing_mm=(1.0, 1.0)), tmp_path / "out.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.nii.gz", "junk.nii.gz"]


rotations = st.lists(st.floats(-np.pi, np.pi), min_size=3, max_size=3)
spacings = st.lists(st.floats(0.3, 5.0), min_size=3, max_size=3)
origins = st.lists(st.floats(-250.0, 250.0), min_size=3, max_size=3)


def _rotation(angles: list[float]) -> np.ndarray:
    return sitk.Euler3DTransform((0, 0, 0), *angles).GetMatrix()


@settings(max_examples=40, deadline=None)
@given(rotations, spacings, origins)
def test_any_geometry_survives_nifti_and_simpleitk(tmp_path_factory, angles, spacing, origin):
    matrix = np.asarray(_rotation(angles)).reshape(3, 3)
    image = Image(array=np.arange(24, dtype=np.int16).reshape(2, 3, 4), spacing_mm=tuple(spacing),
                  origin_mm=tuple(origin), direction=matrix)
    assert image_from_sitk(image_to_sitk(image)).geometry_equal(image, atol=1e-9)
    path = tmp_path_factory.mktemp("nifti") / "x.nii.gz"
    write_nifti(image, path)
    # NIfTI-1 stores float32: |origin| <= 250 mm keeps about 1.5e-5 mm; directions go via the quaternion.
    assert read_nifti(path).geometry_equal(image, atol=3e-5)


def test_2d_images_convert_to_2d_simpleitk_only_in_the_xy_plane():
    xray = Image(array=np.ones((3, 4), np.uint16), spacing_mm=(0.2, 0.3))
    converted = image_to_sitk(xray)
    assert converted.GetDimension() == 2 and converted.GetSpacing() == (0.3, 0.2)
    assert image_from_sitk(converted).geometry_equal(xray)
    ct_slice = read_image(pydicom_file("CT_small.dcm"))
    with pytest.raises(GeometryError, match="outside the x-y plane; convert image.as_volume"):
        image_to_sitk(ct_slice)
    volume = image_from_sitk(image_to_sitk(ct_slice.as_volume()))
    assert volume.take_slice(0).geometry_equal(ct_slice)
