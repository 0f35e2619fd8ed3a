"""DICOM reading against pydicom, highdicom and SimpleITK on real files, and every refusal."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from radiomark.errors import DicomError, GeometryError, InputError
from radiomark.image import Orientation
from radiomark.io import read_image
from radiomark.io.dicom import ProblemKind, scan_dicom
from radiomark.phantoms import generate_case, write_case
from tests.helpers import edit_dicom, pydicom_file, shared_data


def _sitk_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def assert_same_as_sitk(image, reference: sitk.Image, atol: float = 1e-5) -> None:
    array = sitk.GetArrayFromImage(reference)
    if image.ndim == 2:
        array = array[0]
    np.testing.assert_array_equal(image.array, array)
    spacing = reference.GetSpacing()[: image.ndim][::-1]
    np.testing.assert_allclose(image.spacing_mm, spacing, atol=atol, rtol=0)
    np.testing.assert_allclose(image.origin_mm, reference.GetOrigin(), atol=atol, rtol=0)
    direction = np.asarray(reference.GetDirection()).reshape(3, 3)[:, ::-1]
    np.testing.assert_allclose(image.direction, direction[:, -image.ndim:] if image.ndim == 2 else direction,
                               atol=atol, rtol=0)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "693_UNCR.dcm"])
def test_single_slice_matches_simpleitk(name):
    path = pydicom_file(name)
    assert_same_as_sitk(read_image(path), sitk.ReadImage(str(path)))


def test_ct_values_are_hounsfield_units():
    path = pydicom_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(read_image(path).array, expected)


@pytest.mark.parametrize(("compressed", "reference"), [
    ("MR_small_jp2klossless.dcm", "MR_small.dcm"),      # JPEG 2000 lossless
    ("MR_small_RLE.dcm", "MR_small.dcm"),               # RLE
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),  # JPEG-LS lossless
    ("MR_small_bigendian.dcm", "MR_small.dcm"),         # explicit VR big endian
    ("MR_small_implicit.dcm", "MR_small.dcm"),          # implicit VR little endian
    ("693_J2KR.dcm", "693_UNCR.dcm"),                   # real head CT, JPEG 2000
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", None),           # JPEG lossless (process 14)
])
def test_compressed_syntaxes_decode_to_the_uncompressed_values(compressed, reference):
    image = read_image(pydicom_file(compressed))
    if reference is None:
        np.testing.assert_array_equal(image.array, pydicom.dcmread(pydicom_file(compressed)).pixel_array)
    else:
        np.testing.assert_array_equal(image.array, read_image(pydicom_file(reference)).array)


def test_jpeg_baseline_decodes_like_pydicom():
    path = pydicom_file("JPEG2000.dcm")
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    np.testing.assert_array_equal(read_image(path).array, expected)
    baseline = pydicom_file("SC_jpeg_no_color_transform.dcm")  # JPEG baseline, but RGB
    with pytest.raises(DicomError, match="a colour image \\(RGB\\)"):
        read_image(baseline)


def test_monochrome1_is_inverted_like_highdicom():
    import highdicom as hd

    path = pydicom_file("RG1_UNCR.dcm")
    image = read_image(path)
    expected = hd.imread(path).get_frame(1, apply_presentation_lut=True)
    np.testing.assert_array_equal(image.array, expected)
    assert image.spacing_mm is None  # PixelSpacing is 0.000 in this file: unknown, not zero
    assert image.metadata["photometric_interpretation"] == "MONOCHROME1"


def test_imager_pixel_spacing_is_used_for_projection_radiographs(tmp_path):
    case = generate_case("neonatal-rds", 1)  # odd seed: MONOCHROME1 DX with ImagerPixelSpacing
    folder = write_case(case, tmp_path, "dicom")
    image = read_image(folder / "dicom" / "cxr")
    assert image.metadata["photometric_interpretation"] == "MONOCHROME1"
    np.testing.assert_array_equal(image.array, case.image.array)
    assert image.spacing_mm == pytest.approx(case.image.spacing_mm)


def test_enhanced_multiframe_ct_matches_highdicom_in_normal_order():
    import highdicom as hd

    path = pydicom_file("eCT_Supplemental.dcm")
    image = read_image(path)
    volume = hd.imread(path).get_volume()
    assert image.shape == volume.shape
    np.testing.assert_array_equal(image.array, volume.array[::-1])  # highdicom orders against the normal
    np.testing.assert_allclose(image.direction[:, 0], image.normal, atol=1e-6)
    np.testing.assert_allclose(image.index_to_point((1, 0, 0)), volume.position, atol=1e-5)


@pytest.mark.data
def test_real_jpeg2000_ct_series_matches_simpleitk():
    folder = shared_data("ct-abdomen-totalseg/example_ct_dicom")
    image = read_image(folder)
    assert image.shape == (20, 512, 512)
    assert image.metadata["modality"] == "CT" and image.array.min() >= -1024
    assert_same_as_sitk(image, _sitk_series(folder))


def test_phantom_series_matches_simpleitk_and_the_phantom(tmp_path):
    case = generate_case("brain-gwr", 3)
    folder = write_case(case, tmp_path, "dicom") / "dicom" / "ct_head"
    image = read_image(folder)
    assert_same_as_sitk(image, _sitk_series(folder))
    np.testing.assert_array_equal(image.array, case.image.array)
    assert image.geometry_equal(case.image)


def test_non_dicom_files_are_skipped_in_folders_and_refused_alone(tmp_path):
    shutil.copy(pydicom_file("CT_small.dcm"), tmp_path / "a.dcm")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "fake.dcm").write_bytes(b"\x00" * 300)
    assert [s.n_slices for s in scan_dicom(tmp_path)] == [1]
    with pytest.raises(DicomError, match=r"fake\.dcm: not a DICOM file"):
        read_image(tmp_path / "fake.dcm")


def test_empty_and_dicom_free_folders_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: folder is empty"):
        read_image(tmp_path / "empty")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    with pytest.raises(InputError, match=r"holds no DICOM images \(1 file"):
        read_image(tmp_path / "text")
    with pytest.raises(InputError, match="no such file or folder"):
        read_image(tmp_path / "missing")


def test_truncated_pixel_data_is_a_dicom_error():
    with pytest.raises(DicomError, match=r"MR_truncated\.dcm: cannot decode the pixel data"):
        read_image(pydicom_file("MR_truncated.dcm"))


def test_unreadable_compressed_frame_is_a_dicom_error(tmp_path):
    source = pydicom.dcmread(pydicom_file("693_J2KR.dcm"))
    source.PixelData = source.PixelData[:200] + b"\x00" * 64  # damage the JPEG 2000 codestream
    source.save_as(tmp_path / "broken.dcm")
    with pytest.raises(DicomError, match=r"broken\.dcm: cannot decode the pixel data \(JPEG 2000"):
        read_image(tmp_path / "broken.dcm")


@pytest.fixture
def head_series(tmp_path) -> Path:
    """A 40-slice phantom head CT written as DICOM; tests damage copies of it."""
    return write_case(generate_case("brain-gwr", 0), tmp_path, "dicom") / "dicom" / "ct_head"


def test_missing_slice_is_refused_naming_the_neighbours(head_series):
    (head_series / "IM0011.dcm").unlink()
    with pytest.raises(GeometryError, match=r"missing slices: gap of 6\.00 mm between IM0010\.dcm and "
                                            r"IM0012\.dcm .*about 1 slice\(s\) missing"):
        read_image(head_series)


def test_uneven_spacing_is_refused(head_series):
    ds = pydicom.dcmread(head_series / "IM0020.dcm")
    position = [float(v) for v in ds.ImagePositionPatient]
    edit_dicom(head_series / "IM0020.dcm", ImagePositionPatient=[*position[:2], position[2] + 0.8])
    with pytest.raises(GeometryError, match=r"uneven spacing: slice steps range from 2\.200 to 3\.800 mm"):
        read_image(head_series)


def test_duplicate_slice_is_refused(head_series):
    shutil.copy(head_series / "IM0005.dcm", head_series / "IM0005_copy.dcm")
    with pytest.raises(GeometryError, match="duplicate slices: .*share the slice position"):
        read_image(head_series)


def test_mixed_orientations_are_refused(head_series):
    edit_dicom(head_series / "IM0003.dcm", ImageOrientationPatient=[1, 0, 0, 0, 0, -1])
    with pytest.raises(GeometryError, match="mixed orientations: 2 different ImageOrientationPatient"):
        read_image(head_series)


def test_missing_pixel_spacing_is_refused(head_series):
    for path in head_series.iterdir():
        edit_dicom(path, PixelSpacing=None)
    with pytest.raises(GeometryError, match="no spacing: CT image without PixelSpacing"):
        read_image(head_series)


def test_problems_are_listed_without_reading_pixels(head_series):
    (head_series / "IM0011.dcm").unlink()
    (series,) = scan_dicom(head_series)
    assert [p.kind for p in series.problems] == [ProblemKind.MISSING_SLICES]
    assert series.orientation is Orientation.AXIAL and series.n_slices == 39


def test_echoes_of_one_series_are_split_by_echo_time(tmp_path):
    case = generate_case("nigra", 0)
    root = write_case(case, tmp_path, "dicom") / "dicom"
    merged = tmp_path / "merged"
    merged.mkdir()
    uid = pydicom.dcmread(root / "echo1" / "IM0001.dcm").SeriesInstanceUID
    for echo in ("echo1", "echo2"):
        for path in (root / echo).iterdir():
            target = merged / f"{echo}_{path.name}"
            shutil.copy(path, target)
            edit_dicom(target, SeriesInstanceUID=uid)
    found = scan_dicom(merged)
    assert [s.echo_time_ms for s in found] == [5.0, 15.0]
    assert all(not s.problems and s.n_slices == 20 for s in found)


def test_truncated_header_is_skipped_in_a_folder_and_refused_alone(tmp_path):
    shutil.copy(pydicom_file("CT_small.dcm"), tmp_path / "good.dcm")
    (tmp_path / "cut.dcm").write_bytes((tmp_path / "good.dcm").read_bytes()[:1000])  # header cut short
    assert [s.files[0].path.name for s in scan_dicom(tmp_path)] == ["good.dcm"]
    with pytest.raises(DicomError, match=r"cut\.dcm: no image in this DICOM object \(CT Image Storage"):
        read_image(tmp_path / "cut.dcm")
