"""DICOM SEG output: readable by highdicom and pydicom, voxel-for-voxel equal to the label map."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest

from radiomark import api
from radiomark.errors import InputError
from radiomark.io.nifti import read_nifti
from tests.helpers import tiny_phantoms


def test_seg_round_trips_and_references_the_source_series(tmp_path):
    study = tiny_phantoms(tmp_path / "in", range(1), fmt="dicom", size=128) / "sarcopenia-0000"
    (result,) = api.run("sarcopenia", study, tmp_path / "out", dicom_seg=True).results
    case = tmp_path / "out" / "sarcopenia-0000"
    labels = read_nifti(case / "labels.nii.gz")
    source = pydicom.dcmread(study / "dicom" / "ct_l3" / "IM0001.dcm")
    seg = hd.seg.segread(case / "seg.dcm")
    assert seg.SeriesInstanceUID != source.SeriesInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID
    assert seg.StudyInstanceUID == source.StudyInstanceUID and seg.PatientID == source.PatientID
    back = seg.get_pixels_by_source_instance([source.SOPInstanceUID], combine_segments=True)
    np.testing.assert_array_equal(back[0], labels.array)
    described = {d.SegmentLabel: d.SegmentedPropertyTypeCodeSequence[0].CodeValue for d in seg.SegmentSequence}
    assert described == {"skeletal muscle": "127954009", "subcutaneous fat": "256674009",
                         "visceral fat": "256674009"}
    assert pydicom.dcmread(case / "seg.dcm").Modality == "SEG"
    assert "seg.dcm" in result.outputs


def test_seg_of_a_slice_of_a_volume_references_that_slice(tmp_path):
    from radiomark.phantoms import generate_case, write_case

    series = write_case(generate_case("brain-gwr", 0), tmp_path / "in", "dicom") / "dicom" / "ct_head"
    api.run("sarcopenia", series, tmp_path / "out", slice_index=20, dicom_seg=True)
    seg = hd.seg.segread(tmp_path / "out" / "ct_head" / "seg.dcm")
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    from radiomark.io.dicom import scan_dicom

    (found,) = scan_dicom(series)
    assert referenced == {found.files[20].sop_instance_uid}


def test_seg_needs_dicom_input(tmp_path):
    study = tiny_phantoms(tmp_path / "in", range(1), fmt="nifti", size=64) / "sarcopenia-0000" / "ct_l3.nii.gz"
    with pytest.raises(InputError, match="a DICOM SEG needs DICOM input"):
        api.run("sarcopenia", study, tmp_path / "out", dicom_seg=True)
    assert not (tmp_path / "out").exists()


def test_seg_of_a_real_slice_with_an_empty_slice_thickness_reads_back(tmp_path):
    from tests.helpers import pydicom_file

    path = pydicom_file("explicit_VR-UN.dcm")
    before = path.read_bytes()
    api.run("sarcopenia", path, tmp_path / "out", dicom_seg=True)
    seg = hd.seg.segread(tmp_path / "out" / "explicit_VR-UN" / "seg.dcm")
    back = seg.get_pixels_by_source_instance([pydicom.dcmread(path).SOPInstanceUID], combine_segments=True)
    np.testing.assert_array_equal(back[0], read_nifti(tmp_path / "out" / "explicit_VR-UN" / "labels.nii.gz").array)
    assert path.read_bytes() == before


def test_sr_measurements_carry_units_and_point_at_their_segments(tmp_path):
    study = tiny_phantoms(tmp_path / "in", range(2, 3), fmt="dicom", size=128) / "sarcopenia-0002"
    (result,) = api.run("sarcopenia", study, tmp_path / "out", dicom_sr=True, sex="F", height_m=1.6,
                        weight_kg=55).results
    case = tmp_path / "out" / "sarcopenia-0002"
    seg = pydicom.dcmread(case / "seg.dcm")
    sr = hd.sr.srread(case / "sr.dcm")
    segments, reported = {}, {}
    segment_of_frame = [frames.SegmentIdentificationSequence[0].ReferencedSegmentNumber
                        for frames in seg.PerFrameFunctionalGroupsSequence]
    labels = read_nifti(case / "labels.nii.gz").array
    outlines = {}
    for group in sr.content.get_planar_roi_measurement_groups():
        frame = group.referenced_segmentation_frame
        if frame is None:  # the key-image outline of a group, under the same tracking identifier
            outlines[(str(group.tracking_identifier), group.tracking_uid)] = group.roi.value
            continue
        assert frame.referenced_sop_instance_uid == seg.SOPInstanceUID
        segments[(str(group.tracking_identifier), group.tracking_uid)] = [segment_of_frame[n - 1]
                                                                         for n in frame.referenced_frame_numbers]
        reported |= {m.name.meaning: (m.value, m.unit.value) for m in group.get_measurements()}
    assert {name: numbers for (name, _), numbers in segments.items()} == {
        "skeletal_muscle": [1], "subcutaneous_fat": [2], "visceral_fat": [3]}
    assert set(segments) <= set(outlines)
    for (name, _), value in segments.items():  # each outline runs along the edge of its structure
        points = outlines[(name, _)]
        assert len(points) > 8 and np.array_equal(points[0], points[-1])
        inside = np.argwhere(labels == value[0])[:, ::-1] + 0.5  # (column, row) pixel centres
        distance = np.min(np.linalg.norm(points[:, None, :] - inside[None, :, :], axis=2), axis=1)
        assert distance.max() <= 1.0, name
    expected = result.measurements
    assert reported["skeletal muscle area"] == pytest.approx((expected["skeletal_muscle_area"].value, "cm2"))
    assert reported["skeletal muscle index"][1] == "cm2/m2"
    assert reported["skeletal muscle mean attenuation"][1] == "[hnsf'U]"
    assert len(outlines) == 4  # and the whole-slice group's: the border of the image
    (whole,) = sr.content.get_image_measurement_groups()
    assert [m.name.meaning for m in whole.get_measurements()] == ["vat sat ratio"]
