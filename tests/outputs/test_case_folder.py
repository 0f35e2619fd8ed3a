"""Output options: --anonymize (dicognito), --keep-identifiers and --pdf."""

from __future__ import annotations

import json

import highdicom as hd
import numpy as np
import pydicom
import pytest

from radiomark import api
from radiomark.errors import InputError
from radiomark.io.nifti import read_nifti
from tests.helpers import tiny_phantoms


def _references(dataset: pydicom.Dataset) -> set[str]:
    return {str(element.value) for element in dataset.iterall() if element.keyword == "ReferencedSOPInstanceUID"}


def test_anonymize_replaces_identifiers_and_keeps_references(tmp_path):
    study = tiny_phantoms(tmp_path / "in", range(1), fmt="dicom", size=128) / "sarcopenia-0000"
    source_file = study / "dicom" / "ct_l3" / "IM0001.dcm"
    source = pydicom.dcmread(source_file)
    (result,) = api.run("sarcopenia", study, tmp_path / "out", dicom_sr=True, anonymize=True, pdf=True).results
    assert result.case_id.startswith("case-") and "sarcopenia" not in result.case_id  # a pseudonym, not the name
    case = tmp_path / "out" / result.case_id
    seg, sr = pydicom.dcmread(case / "seg.dcm"), pydicom.dcmread(case / "sr.dcm")
    for dataset in (seg, sr):
        assert dataset.PatientID != source.PatientID and str(dataset.PatientName) != str(source.PatientName)
        assert dataset.StudyInstanceUID != source.StudyInstanceUID and dataset.PatientIdentityRemoved == "YES"
    assert seg.PatientID == sr.PatientID and seg.StudyInstanceUID == sr.StudyInstanceUID  # one mapping
    (referenced_source,) = _references(seg)
    assert referenced_source != source.SOPInstanceUID
    assert _references(sr) == {seg.SOPInstanceUID, referenced_source}  # the SR still points at its SEG
    back = hd.seg.segread(case / "seg.dcm").get_pixels_by_source_instance([referenced_source], combine_segments=True)
    np.testing.assert_array_equal(back[0], read_nifti(case / "labels.nii.gz").array)
    texts = [(case / name).read_text() for name in ("measurements.json", "measurements.csv", "report.html")]
    texts.append((tmp_path / "out" / "cohort.csv").read_text())
    for text in texts:
        assert str(study) not in text and source.PatientID not in text
    assert json.loads(texts[0])["source"] == "(withheld: --anonymize)"
    assert (case / "report.pdf").read_bytes().startswith(b"%PDF") and "report.pdf" in result.outputs
    assert pydicom.dcmread(source_file).PatientID == source.PatientID  # the input is untouched


def test_reports_show_only_the_identifiers_asked_for(tmp_path):
    study = tiny_phantoms(tmp_path / "in", range(1), fmt="dicom", size=128) / "sarcopenia-0000"
    source = pydicom.dcmread(study / "dicom" / "ct_l3" / "IM0001.dcm")
    api.run("sarcopenia", study, tmp_path / "plain")
    report = (tmp_path / "plain" / "sarcopenia-0000" / "report.html").read_text()
    assert str(source.PatientName) not in report and "Identifiers kept" not in report
    api.run("sarcopenia", study, tmp_path / "kept", keep_identifiers=("patient_name", "study_date"))
    case = tmp_path / "kept" / "sarcopenia-0000"
    assert str(source.PatientName) in (case / "report.html").read_text()
    assert json.loads((case / "measurements.json").read_text())["identifiers"] == {
        "patient_name": str(source.PatientName), "study_date": source.StudyDate}
    assert "patient_name" in (tmp_path / "kept" / "cohort.csv").read_text().splitlines()[0]
    with pytest.raises(InputError, match="unknown"):
        api.run("sarcopenia", study, tmp_path / "bad", keep_identifiers=("shoe_size",))
    with pytest.raises(InputError, match="contradict"):
        api.run("sarcopenia", study, tmp_path / "bad", keep_identifiers=("patient_id",), anonymize=True)
    assert not (tmp_path / "bad").exists()
