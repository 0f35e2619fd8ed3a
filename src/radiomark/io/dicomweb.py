"""Studies in and results out over DICOMweb (QIDO-RS, WADO-RS, STOW-RS) with ``dicomweb-client``.

Servers are named by URL: ``dicomweb://HOST:PORT/PATH`` (plain HTTP), ``dicomwebs://HOST/PATH`` or
``https://HOST/PATH`` (TLS, certificates verified — against ``ca_bundle`` when the site has its
own authority), or ``http://HOST:PORT/PATH``. ``PATH`` is the DICOMweb root (Orthanc:
``/dicom-web``).

Credentials never come from the command line (it ends up in shell histories, process lists and
logs): ``RADIOMARK_PACS_USERNAME`` / ``RADIOMARK_PACS_PASSWORD``, else the ``[pacs]`` section of
``radiomark.toml`` (:class:`radiomark.config.PacsSettings`), which is refused when others may read
it. A URL with ``user:password@`` is refused for the same reason.

A fetched study is written as one file per instance, ``FOLDER/<study>/<series>/<instance>.dcm``,
and read by the same reader and series rules as a folder on disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from radiomark.errors import InputError, MissingDependencyError

#: The schemes a server URL may have, and the HTTP scheme each stands for.
SCHEMES = {"dicomweb": "http", "dicomwebs": "https", "http": "http", "https": "https"}
#: A DICOM UID: digits and dots, at most 64 characters.
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True)
class Credentials:
    """HTTP basic-authentication credentials (never printed: ``repr`` hides the password)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=…)"


@dataclass(frozen=True)
class DicomWebServer:
    """A DICOMweb root: its HTTP(S) URL, and how TLS certificates are checked."""

    url: str
    ca_bundle: Path | None = None

    @classmethod
    def parse(cls, text: str, ca_bundle: Path | None = None) -> DicomWebServer:
        """The server named by ``text`` (see the module docstring); a bad URL is an :class:`InputError`."""
        parts = urlsplit(text)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise InputError(None, f"{text!r} is not a DICOMweb URL; write dicomweb://HOST:PORT/PATH (or "
                                   "dicomwebs:// / https:// for TLS)")
        if parts.username or parts.password:
            raise InputError(None, "a DICOMweb URL may not carry credentials (they would be logged); set "
                                   "RADIOMARK_PACS_USERNAME and RADIOMARK_PACS_PASSWORD, or [pacs] in radiomark.toml")
        try:
            parts.port  # noqa: B018  # a port that is not a number raises here
        except ValueError:
            raise InputError(None, f"{text!r}: the port is not a number") from None
        return cls(urlunsplit((SCHEMES[parts.scheme], parts.netloc, parts.path.rstrip("/"), "", "")), ca_bundle)

    @property
    def tls(self) -> bool:
        return self.url.startswith("https://")


def credentials(settings: Any = None) -> Credentials | None:
    """Credentials from the environment (``RADIOMARK_PACS_USERNAME`` / ``RADIOMARK_PACS_PASSWORD``),
    else from ``settings`` (a :class:`radiomark.config.PacsSettings`); None when neither has any."""
    username = os.environ.get("RADIOMARK_PACS_USERNAME")
    if username:
        password = os.environ.get("RADIOMARK_PACS_PASSWORD")
        if password is None:
            raise InputError(None, "RADIOMARK_PACS_USERNAME is set but RADIOMARK_PACS_PASSWORD is not")
        return Credentials(username, password)
    if settings is not None and settings.username:
        return Credentials(settings.username, settings.password or "")
    return None


def client(server: DicomWebServer, login: Credentials | None = None, timeout_s: float = 60) -> Any:
    """A ``dicomweb_client.DICOMwebClient`` for ``server`` (basic authentication with ``login``)."""
    try:
        import requests
        from dicomweb_client.api import DICOMwebClient
    except ImportError:
        raise MissingDependencyError("DICOMweb needs dicomweb-client: pip install 'radiomark[pacs]'") from None
    session = requests.Session()
    if login is not None:
        session.auth = (login.username, login.password)
    if server.ca_bundle is not None:
        session.verify = str(server.ca_bundle)
    return DICOMwebClient(url=server.url, session=session, timeout=timeout_s)


def _failure(server: DicomWebServer, doing: str, error: Exception) -> InputError:
    """A failed request as a one-line error naming the server (never the credentials)."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status in (401, 403):
        return InputError(server.url, f"{doing}: the server refused the credentials (HTTP {status}); set "
                                      "RADIOMARK_PACS_USERNAME / RADIOMARK_PACS_PASSWORD or [pacs] in radiomark.toml")
    reason = f"HTTP {status}" if status else type(error).__name__
    return InputError(server.url, f"{doing} failed ({reason}: {' '.join(str(error).split())[:160]})")


def parse_query(text: str) -> dict[str, str]:
    """``"ModalitiesInStudy=CT&StudyDate=20260101-"`` as QIDO-RS search filters."""
    filters = {}
    for part in (p for p in text.split("&") if p.strip()):
        key, equals, value = part.partition("=")
        if not equals or not key.strip():
            raise InputError(None, f"--query {text!r}: write KEY=VALUE pairs joined by & "
                                   "(e.g. ModalitiesInStudy=CT&StudyDate=20260101-)")
        filters[key.strip()] = value.strip()
    return filters


def check_study_uids(uids: Sequence[str]) -> None:
    """Refuse a ``--study`` that is not a DICOM UID (it becomes part of a URL and a folder name)."""
    for uid in uids:
        if len(uid) > 64 or not _UID.match(uid):
            raise InputError(None, f"--study {uid!r} is not a StudyInstanceUID (digits and dots, at most 64)")


#: Studies asked for per QIDO-RS request.
PAGE = 500


def find_studies(connection: Any, server: DicomWebServer, query: str) -> list[str]:
    """StudyInstanceUIDs of the studies matching ``query`` (QIDO-RS), in the server's order, page by
    page. A page that brings nothing new ends the search: some servers (Orthanc 1.10) ignore
    ``offset``, on which dicomweb-client's own ``get_remaining`` loops for ever."""
    found: dict[str, None] = {}
    offset = 0
    while True:
        try:
            page = connection.search_for_studies(search_filters=parse_query(query), fields=["StudyInstanceUID"],
                                                 limit=PAGE, offset=offset)
        except Exception as error:  # noqa: BLE001  # requests / HTTP errors of any kind become one line
            raise _failure(server, f"searching studies ({query})", error) from None
        uids = [study["0020000D"]["Value"][0] for study in page if study.get("0020000D", {}).get("Value")]
        new = [uid for uid in uids if uid not in found]
        found.update(dict.fromkeys(new))
        if len(page) < PAGE or not new:
            return list(found)
        offset += len(page)


def fetch_study(connection: Any, server: DicomWebServer, uid: str, folder: Path) -> Path:
    """Retrieve study ``uid`` (WADO-RS) into ``folder/<uid>/<series>/<instance>.dcm``; returns the
    study folder (radiomark's own SEG and SR stay on the server, see :func:`save_fetched`)."""
    target = folder / uid
    count = 0
    try:
        for dataset in connection.iter_study(uid):
            count += save_fetched(dataset, target)
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001
        raise _failure(server, f"retrieving study {uid}", error) from None
    if not count:
        raise InputError(server.url, f"study {uid} has no instances on this server")
    return target


def save_fetched(dataset: Any, study: Path) -> bool:
    """Write one fetched instance (DICOMweb or DIMSE) as ``study/<series>/<instance>.dcm``; whether
    it was written. radiomark's own SEG and SR (``--to`` of an earlier run) are not: they are
    results, not inputs, and a study fetched again reads as it did the first time."""
    if dataset.get("Manufacturer") == "radiomark" and dataset.get("Modality") in ("SEG", "SR"):
        return False
    path = study / _component(str(dataset.get("SeriesInstanceUID", "series"))) / \
        f"{_component(str(dataset.SOPInstanceUID))}.dcm"
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return True


def _component(uid: str) -> str:
    """A UID as a file name (UIDs are digits and dots; anything else is replaced)."""
    return re.sub(r"[^0-9A-Za-z.]", "_", uid)[:64] or "unknown"


def send(connection: Any, server: DicomWebServer, paths: Sequence[Path]) -> int:
    """Store the DICOM files ``paths`` on the server (STOW-RS, one request); returns how many."""
    import pydicom

    if not paths:
        return 0
    datasets = [pydicom.dcmread(path) for path in paths]
    try:
        response = connection.store_instances(datasets)
    except Exception as error:  # noqa: BLE001
        raise _failure(server, f"storing {len(paths)} result file(s)", error) from None
    failed = response.get("FailedSOPSequence", []) if response is not None else []
    if failed:
        raise InputError(server.url, f"the server refused {len(failed)} of {len(paths)} result file(s)")
    return len(datasets)
