"""Studies in and results out over DICOM networking (DIMSE) with pynetdicom, for sites without
DICOMweb: C-FIND and C-GET in, C-STORE out.

A node is named ``dicom://AET@HOST:PORT`` (the called AE title, host and port); radiomark calls
itself ``RADIOMARK`` (``[pacs] ae_title`` to change it). C-GET brings the images back over the same
association, so the PACS needs no route back to radiomark (C-MOVE would). A fetched study is
written as :mod:`radiomark.io.dicomweb` writes one: ``FOLDER/<study>/<series>/<instance>.dcm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from radiomark.errors import InputError, MissingDependencyError
from radiomark.io.dicomweb import parse_query

#: The AE title radiomark uses when the site sets none.
AE_TITLE = "RADIOMARK"


@dataclass(frozen=True)
class DicomNode:
    """A DICOM application entity: called AE title, host, port; ``ae_title`` is radiomark's own."""

    called: str
    host: str
    port: int
    ae_title: str = AE_TITLE

    @classmethod
    def parse(cls, text: str, ae_title: str | None = None) -> DicomNode:
        """The node named by ``dicom://AET@HOST:PORT``; anything else is an :class:`InputError`."""
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "dicom" or not parts.username or not parts.hostname or port is None or parts.password:
            raise InputError(None, f"{text!r} is not a DICOM node; write dicom://AET@HOST:PORT")
        for title in (parts.username, ae_title or AE_TITLE):
            if not 0 < len(title) <= 16 or "\\" in title:
                raise InputError(None, f"AE title {title!r} must be 1 to 16 characters, without a backslash")
        return cls(parts.username, parts.hostname, port, ae_title or AE_TITLE)

    @property
    def url(self) -> str:
        return f"dicom://{self.called}@{self.host}:{self.port}"


def _pynetdicom() -> Any:
    try:
        import pynetdicom
    except ImportError:
        raise MissingDependencyError("DICOM networking needs pynetdicom: pip install 'radiomark[pacs]'") from None
    return pynetdicom


def _associate(node: DicomNode, contexts: Sequence[Any], roles: Sequence[Any] = (), handlers: Sequence[Any] = ()
               ) -> Any:
    pynetdicom = _pynetdicom()
    entity = pynetdicom.AE(ae_title=node.ae_title)
    entity.requested_contexts = list(contexts)
    association = entity.associate(node.host, node.port, ae_title=node.called, ext_neg=list(roles),
                                   evt_handlers=list(handlers))
    if not association.is_established:
        raise InputError(node.url, "no association: the node refused radiomark or cannot be reached (check its "
                                   f"AE title, host and port, and that it knows the AE title {node.ae_title})")
    return association


def _status(status: Any) -> int:
    return int(status.Status) if status is not None and "Status" in status else -1


def find_studies(node: DicomNode, query: str) -> list[str]:
    """StudyInstanceUIDs of the studies matching ``query`` (C-FIND, study root)."""
    from pydicom import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ""
    for key, value in parse_query(query).items():
        try:
            setattr(identifier, key, value)
        except (ValueError, TypeError, AttributeError):
            raise InputError(None, f"--query: {key} is not a DICOM attribute keyword") from None
    association = _associate(node, [_context(StudyRootQueryRetrieveInformationModelFind)])
    found: list[str] = []
    try:
        for status, answer in association.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
            code = _status(status)
            if code in (0xFF00, 0xFF01) and answer is not None and answer.get("StudyInstanceUID"):
                found.append(str(answer.StudyInstanceUID))
            elif code not in (0x0000, 0xFF00, 0xFF01):
                raise InputError(node.url, f"C-FIND failed (status 0x{code & 0xFFFF:04X})")
    finally:
        association.release()
    return list(dict.fromkeys(found))


def _context(sop_class: str) -> Any:
    return _pynetdicom().build_context(sop_class)


def fetch_study(node: DicomNode, uid: str, folder: Path) -> Path:
    """Retrieve study ``uid`` with C-GET into ``folder/<uid>/<series>/<instance>.dcm`` (radiomark's
    own SEG and SR stay on the node, see :func:`radiomark.io.dicomweb.save_fetched`); returns the
    study folder."""
    from pydicom import Dataset
    from pynetdicom import StoragePresentationContexts, build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet  # type: ignore[attr-defined]

    from radiomark.io.dicomweb import save_fetched

    target = folder / uid
    written = [0]

    def store(event: Any) -> int:
        dataset = event.dataset
        dataset.file_meta = event.file_meta
        written[0] += save_fetched(dataset, target)
        return 0x0000

    storage = list(StoragePresentationContexts)[:127]  # one association holds 128 contexts
    association = _associate(node, [_context(StudyRootQueryRetrieveInformationModelGet), *storage],
                             [build_role(str(context.abstract_syntax), scp_role=True) for context in storage],
                             [(evt.EVT_C_STORE, store)])
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = uid
    try:
        for status, _ in association.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet):
            code = _status(status)
            if code not in (0x0000, 0xFF00, 0xB000):
                raise InputError(node.url, f"C-GET of study {uid} failed (status 0x{code & 0xFFFF:04X})")
    finally:
        association.release()
    if not written[0]:
        raise InputError(node.url, f"study {uid} has no instances on this node")
    return target


def send(node: DicomNode, paths: Sequence[Path]) -> int:
    """C-STORE the DICOM files ``paths`` to ``node``; returns how many."""
    import pydicom

    datasets = [pydicom.dcmread(path) for path in paths]
    if not datasets:
        return 0
    classes = list(dict.fromkeys(str(dataset.SOPClassUID) for dataset in datasets))
    association = _associate(node, [_context(sop_class) for sop_class in classes])
    try:
        for path, dataset in zip(paths, datasets, strict=True):
            code = _status(association.send_c_store(dataset))
            if code != 0x0000:
                raise InputError(node.url, f"C-STORE of {path.name} failed (status 0x{code & 0xFFFF:04X})")
    finally:
        association.release()
    return len(datasets)
