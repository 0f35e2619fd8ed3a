"""The DICOMweb round trip against a real PACS: Orthanc (Debian, with its DICOMweb plugin) on
127.0.0.1, with a login. Studies go in by STOW-RS, radiomark finds them (QIDO-RS), fetches them
(WADO-RS), runs, and sends the SEG and SR back; they reference the source series and read back
with highdicom."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from radiomark.cli import app
from radiomark.io.dicomweb import DicomWebServer, client
from tests.helpers import tiny_phantoms
from tests.io.orthanc import LOGIN, dicom_node, upload

pytest.importorskip("dicomweb_client", reason="dicomweb-client is in the test extras")

runner = CliRunner()


def test_run_from_and_to_a_pacs(tmp_path, orthanc, tiny_sarcopenia, monkeypatch):
    import highdicom as hd

    _, model = tiny_sarcopenia
    studies = tiny_phantoms(tmp_path / "in", range(400, 402), fmt="dicom")
    uids = [upload(orthanc, sorted((studies / name).rglob('*.dcm'))) for name in ("sarcopenia-0400", "sarcopenia-0401")]
    monkeypatch.setenv("RADIOMARK_PACS_USERNAME", LOGIN.username)
    monkeypatch.setenv("RADIOMARK_PACS_PASSWORD", LOGIN.password)
    result = runner.invoke(app, ["run", "sarcopenia", "--from", orthanc, "--query", "ModalitiesInStudy=CT",
                                 "--to", orthanc, "--model", str(model), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert LOGIN.password not in (tmp_path / "out" / "run.json").read_text() + result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == sorted(uids)
    server = DicomWebServer.parse(orthanc)
    connection = client(server, LOGIN)
    for uid in uids:
        series = connection.search_for_series(study_instance_uid=uid)
        modalities = sorted(s["00080060"]["Value"][0] for s in series)
        assert modalities == ["CT", "SEG", "SR"], modalities
        source_series = next(s["0020000E"]["Value"][0] for s in series if s["00080060"]["Value"][0] == "CT")
        by_modality = {ds.Modality: ds for ds in connection.retrieve_study(uid)}
        seg = hd.seg.Segmentation.from_dataset(by_modality["SEG"])
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == source_series
        assert len(seg.SegmentSequence) == 3
        report = hd.sr.Comprehensive3DSR.from_dataset(by_modality["SR"])
        evidence = {reference.ReferencedSOPInstanceUID for study in report.CurrentRequestedProcedureEvidenceSequence
                    for series in study.ReferencedSeriesSequence for reference in series.ReferencedSOPSequence}
        assert seg.SOPInstanceUID in evidence and by_modality["CT"].SOPInstanceUID in evidence
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["arguments"]["input_path"].endswith("/dicom-web") and record["inputs"]["files"]
    fetched = tmp_path / "fetched"
    result = runner.invoke(app, ["fetch", orthanc, "--study", uids[0], "--study", uids[1], "--out", str(fetched)])
    assert result.exit_code == 0, result.output
    assert len(list((fetched / uids[0]).rglob("*.dcm"))) == 1  # the CT slice; radiomark's SEG and SR stay behind
    result = runner.invoke(app, ["reproduce", str(tmp_path / "out"), "--out", str(tmp_path / "again")])
    assert result.exit_code == 2 and "give them with --input" in result.output, result.output
    result = runner.invoke(app, ["reproduce", str(tmp_path / "out"), "--out", str(tmp_path / "again"),
                                 "--input", str(fetched)])
    assert result.exit_code == 0 and "reproduced" in result.output.lower(), result.output


def test_pacs_errors_are_one_line_and_name_the_server(tmp_path, orthanc, monkeypatch):
    monkeypatch.setenv("RADIOMARK_PACS_USERNAME", LOGIN.username)
    monkeypatch.setenv("RADIOMARK_PACS_PASSWORD", "wrong")
    result = runner.invoke(app, ["run", "sarcopenia", "--from", orthanc, "--study", "1.2.3", "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 2 and "refused the credentials (HTTP 401)" in result.output, result.output
    assert "wrong" not in result.output and not (tmp_path / "out").exists()
    for arguments, message in ((["--from", "dicomweb://user:pw@127.0.0.1:1/dicom-web", "--study", "1.2"],
                                "may not carry credentials"),
                               (["--from", orthanc], "name the studies to fetch"),
                               (["--from", orthanc, "--study", "../etc"], "is not a StudyInstanceUID"),
                               (["--from", orthanc, "--query", "CT"], "KEY=VALUE"),
                               (["--from", "ftp://host/x", "--study", "1.2"], "is not a DICOMweb URL")):
        result = runner.invoke(app, ["run", "sarcopenia", *arguments, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and message in result.output, (arguments, result.output)


def test_run_from_and_to_a_dicom_node(tmp_path, orthanc, tiny_sarcopenia):
    """DIMSE: C-FIND and C-GET in, C-STORE out, against the same Orthanc's DICOM port."""
    import highdicom as hd

    _, model = tiny_sarcopenia
    studies = tiny_phantoms(tmp_path / "in", range(410, 411), fmt="dicom")
    uid = upload(orthanc, sorted((studies / "sarcopenia-0410").rglob("*.dcm")))
    node = dicom_node(orthanc)
    result = runner.invoke(app, ["run", "sarcopenia", "--from", node, "--query", f"StudyInstanceUID={uid}",
                                 "--to", node, "--model", str(model), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    fetched = tmp_path / "fetched"
    result = runner.invoke(app, ["fetch", node, "--study", uid, "--out", str(fetched)])
    assert result.exit_code == 0, result.output
    assert len(list((fetched / uid).rglob("*.dcm"))) == 1  # the CT; radiomark's SEG and SR stay behind
    server = DicomWebServer.parse(orthanc)
    by_modality = {ds.Modality: ds for ds in client(server, LOGIN).retrieve_study(uid)}
    assert sorted(by_modality) == ["CT", "SEG", "SR"]
    seg = hd.seg.Segmentation.from_dataset(by_modality["SEG"])
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == by_modality["CT"].SeriesInstanceUID
    for arguments, message in ((["--from", "dicom://127.0.0.1:1", "--study", "1.2"], "dicom://AET@HOST:PORT"),
                               (["--from", "dicom://NOBODY@127.0.0.1:1", "--study", "1.2"], "no association")):
        result = runner.invoke(app, ["run", "sarcopenia", *arguments, "--out", str(tmp_path / "bad")])
        assert result.exit_code == 2 and message in result.output, (arguments, result.output)
