"""A real PACS for the tests: Orthanc (Debian, with its DICOMweb plugin) on 127.0.0.1, with a login.

``make test`` installs the Debian packages where it can; tests skip, naming them, where they are
missing. The :func:`orthanc` fixture is registered for every test by ``tests/conftest.py``."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from radiomark.io.dicomweb import Credentials, DicomWebServer, client, send
from tests.helpers import require_debian_packages

ORTHANC = "/usr/sbin/Orthanc"
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
LOGIN = Credentials("radiomark", "s3cret-test")
_DICOM_PORTS: dict[str, int] = {}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh Orthanc on 127.0.0.1 (login required over HTTP; radiomark's AE title registered for
    DIMSE); yields its DICOMweb URL (dicomweb://…); its DICOM node is :func:`dicom_node` of it."""
    require_debian_packages({ORTHANC: "orthanc", PLUGIN: "orthanc-dicomweb"})
    import requests

    folder = tmp_path_factory.mktemp("orthanc")
    http, dicom = free_port(), free_port()
    config = {"Name": "radiomark-test", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
              "HttpPort": http, "DicomPort": dicom, "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
              "RegisteredUsers": {LOGIN.username: LOGIN.password}, "Plugins": [PLUGIN],
              "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "DicomAet": "ORTHANC",
              "DicomModalities": {"radiomark": ["RADIOMARK", "127.0.0.1", 104]}}
    (folder / "orthanc.json").write_text(json.dumps(config))
    with open(folder / "orthanc.log", "w") as log:
        process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{http}/system", auth=(LOGIN.username, LOGIN.password),
                                timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None:
                pytest.fail(f"Orthanc exited: {(folder / 'orthanc.log').read_text()[-1500:]}")
            time.sleep(0.2)
        else:
            pytest.fail("Orthanc did not answer within 20 s")
        _DICOM_PORTS[f"dicomweb://127.0.0.1:{http}/dicom-web"] = dicom
        yield f"dicomweb://127.0.0.1:{http}/dicom-web"
    finally:
        process.terminate()
        process.wait(timeout=20)


def dicom_node(url: str) -> str:
    """The DICOM node (dicom://AET@HOST:PORT) of the Orthanc serving ``url``."""
    return f"dicom://ORTHANC@127.0.0.1:{_DICOM_PORTS[url]}"


def upload(url: str, files: list[Path]) -> str:
    """STOW-RS ``files`` to the Orthanc at ``url``; the StudyInstanceUID of the first."""
    server = DicomWebServer.parse(url)
    send(client(server, LOGIN), server, files)
    return str(pydicom.dcmread(files[0]).StudyInstanceUID)
