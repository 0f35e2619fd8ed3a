"""``radiomark serve``, the DICOM router: a real Orthanc routes a study to radiomark's storage SCP,
radiomark runs the recipe and sends the SEG and SR back; failures are retried and dead-lettered;
the queue is bounded; a restart takes up what was left; the status is JSON over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pydicom
import pytest

from radiomark import api
from radiomark.errors import InputError, RecipeError
from radiomark.phantoms import write_case
from tests.helpers import tiny_phantoms
from tests.io.orthanc import LOGIN, free_port

pytest.importorskip("pynetdicom", reason="pynetdicom is in the test extras")


def _status(service: api.Service) -> dict[str, Any]:
    with urllib.request.urlopen(service.status_url, timeout=5) as answer:
        return dict(json.load(answer))


def _until(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    end = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.2)


def _send(files: Sequence[Path], port: int, ae_title: str = "RADIOMARK") -> list[int]:
    """C-STORE ``files`` to 127.0.0.1:``port`` as a modality would; the status of each."""
    from pynetdicom import AE

    datasets = [pydicom.dcmread(f) for f in files]
    ae = AE(ae_title="MODALITY")
    for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(sop_class)
    association = ae.associate("127.0.0.1", port, ae_title=ae_title)
    assert association.is_established
    try:
        return [int(association.send_c_store(ds).Status) for ds in datasets]
    finally:
        association.release()


def _serve(out: Path, **options: Any) -> api.Service:
    return api.serve("sarcopenia", out, port=free_port(), http_port=free_port(), **options)


def test_a_study_routed_by_a_pacs_comes_back_with_its_seg_and_sr(tmp_path, orthanc, tiny_sarcopenia, monkeypatch):
    import requests

    from radiomark.io.dicomweb import DicomWebServer, client
    from tests.io.orthanc import upload

    _, model = tiny_sarcopenia
    monkeypatch.setenv("RADIOMARK_PACS_USERNAME", LOGIN.username)
    monkeypatch.setenv("RADIOMARK_PACS_PASSWORD", LOGIN.password)
    study = tiny_phantoms(tmp_path / "in", range(420, 421), fmt="dicom") / "sarcopenia-0420"
    uid = upload(orthanc, sorted(study.rglob("*.dcm")))
    service = _serve(tmp_path / "serve", send_to=orthanc, settle_s=0.5, model=model)
    try:
        # The PACS routes the study to radiomark (Orthanc's C-STORE to a modality it was told of).
        rest = orthanc.replace("dicomweb://", "http://").removesuffix("/dicom-web")
        auth = (LOGIN.username, LOGIN.password)
        port = int(service.router.description["dicom"].rsplit(":", 1)[1])
        requests.put(f"{rest}/modalities/radiomark-serve", json={"AET": "RADIOMARK", "Host": "127.0.0.1",
                                                                   "Port": port}, auth=auth).raise_for_status()
        (orthanc_id,) = requests.post(f"{rest}/tools/lookup", data=uid, auth=auth).json()
        requests.post(f"{rest}/modalities/radiomark-serve/store", data=orthanc_id["ID"],
                      auth=auth).raise_for_status()
        _until(lambda: _status(service)["studies"].get(uid, {}).get("state") == "done", "the study is done")
        status = _status(service)
    finally:
        service.stop()
    assert status["studies"][uid]["attempts"] == 1 and status["counts"] == {"done": 1}
    assert status["recipe"] == "sarcopenia" and status["queue"] == {"waiting": 0, "capacity": 8}
    case = tmp_path / "serve" / "results" / uid / uid  # the run folder of the study, then its case folder
    assert (case / "seg.dcm").is_file() and (case / "sr.dcm").is_file()
    assert not (tmp_path / "serve" / "spool" / uid).exists()  # the spool keeps only what is not done
    server = DicomWebServer.parse(orthanc)
    series = client(server, LOGIN).search_for_series(study_instance_uid=uid)
    assert sorted(s["00080060"]["Value"][0] for s in series) == ["CT", "SEG", "SR"]


def test_a_failing_study_is_retried_then_dead_lettered(tmp_path):
    from radiomark.recipes.neonatal_rds.phantom import generate

    film = write_case(generate(0), tmp_path / "in", "dicom")  # a chest radiograph: no CT series for sarcopenia
    files = sorted(film.rglob("*.dcm"))
    service = _serve(tmp_path / "serve", settle_s=0.3, retries=1, retry_wait_s=0.2)
    try:
        assert _send(files, int(service.router.description["dicom"].rsplit(":", 1)[1])) == [0] * len(files)
        uid = str(pydicom.dcmread(files[0]).StudyInstanceUID)
        _until(lambda: _status(service)["studies"].get(uid, {}).get("state") == "dead-letter", "dead-lettered")
        study = _status(service)["studies"][uid]
    finally:
        service.stop()
    assert study["attempts"] == 2 and "CT" in study["error"], study
    dead = tmp_path / "serve" / "dead-letter" / uid
    assert len(list(dead.rglob("*.dcm"))) == len(files)  # nothing lost
    assert (dead / "error.txt").read_text().startswith(study["error"])
    assert not (tmp_path / "serve" / "results" / uid).exists()


def test_the_queue_is_bounded_and_a_restart_takes_up_the_spool(tmp_path, tiny_sarcopenia):
    from radiomark.io.storage_scp import OUT_OF_RESOURCES

    _, model = tiny_sarcopenia
    cases = tiny_phantoms(tmp_path / "in", range(430, 432), fmt="dicom")
    first, second = (sorted((cases / name).rglob("*.dcm")) for name in ("sarcopenia-0430", "sarcopenia-0431"))
    service = _serve(tmp_path / "serve", settle_s=3600, queue_size=1, model=model)  # nothing settles
    try:
        port = int(service.router.description["dicom"].rsplit(":", 1)[1])
        assert _send(first, port) == [0]
        assert _send(second, port) == [OUT_OF_RESOURCES]  # the queue is full: the sender retries later
        assert _send(first, port) == [0]  # a study already admitted is always taken
        assert _status(service)["queue"] == {"waiting": 1, "capacity": 1}
    finally:
        service.stop()
    uid = str(pydicom.dcmread(first[0]).StudyInstanceUID)
    assert len(list((tmp_path / "serve" / "spool" / uid).rglob("*.dcm"))) == 1  # the same instance twice
    again = _serve(tmp_path / "serve", settle_s=0.3, model=model)
    try:
        _until(lambda: _status(again)["studies"].get(uid, {}).get("state") == "done", "the spool is taken up")
    finally:
        again.stop()
    assert (tmp_path / "serve" / "results" / uid / uid / "measurements.json").is_file()


def test_serve_refuses_bad_settings_before_listening(tmp_path):
    for options, message in (({"queue_size": 0}, "queue size >= 1"),
                             ({"send_to": "ftp://host/x"}, "is not a DICOMweb URL")):
        with pytest.raises(InputError, match=message):
            _serve(tmp_path / "serve", **options)
    with pytest.raises(RecipeError, match="not a segmentation recipe"):
        api.serve("disc-herniation", tmp_path / "serve", port=free_port(), http_port=free_port())


def test_the_command_stops_cleanly_on_sigterm_and_names_a_busy_port(tmp_path):
    port, http = free_port(), free_port()
    command = [sys.executable, "-m", "radiomark", "serve", "sarcopenia", "--out", str(tmp_path / "serve"),
               "--port", str(port), "--http-port", str(http)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "COLUMNS": "200"})
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/health", timeout=1) as answer:
                    return bool(answer.read() == b"ok\n")
            except OSError:
                return False

        _until(healthy, "radiomark serve answers /health", timeout_s=60)
        busy = subprocess.run([*command[:-4], "--port", str(port), "--http-port", str(free_port())],
                              capture_output=True, text=True, timeout=120)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and "stopping" in output and "no study received" in output, output
    assert busy.returncode == 2 and f"cannot listen for DICOM on 127.0.0.1:{port}" in busy.stdout + busy.stderr
