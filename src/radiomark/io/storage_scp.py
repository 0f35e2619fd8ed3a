"""A DICOM storage SCP (pynetdicom): instances that PACS or modalities send (C-STORE) are written
into a spool folder, one folder per study, and each arrival is reported to a callback that may
refuse a new study (the router's bounded queue answers "out of resources", and the sender retries
later, as DICOM routers do).

Files are written under a temporary name and renamed, so a study folder never holds half a file.
radiomark's own SEG and SR (sent back to a PACS that routes everything) are acknowledged and not
kept: a result must not start a run of its own.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from radiomark.io.dicomweb import save_fetched

#: C-STORE status: success; refused for lack of resources (the sender may retry later); cannot process.
SUCCESS, OUT_OF_RESOURCES, CANNOT_PROCESS = 0x0000, 0xA700, 0xC000

log = logging.getLogger(__name__)


class StorageServer:
    """A storage SCP on ``host:port`` with AE title ``ae_title`` writing into ``spool/<StudyInstanceUID>/``.

    ``admit(study_uid)`` is asked before each instance is written: False refuses it (status 0xA700).
    ``received(study_uid)`` is told after each instance is written. Also answers C-ECHO.
    """

    def __init__(self, spool: Path, ae_title: str, host: str, port: int,
                 admit: Callable[[str], bool], received: Callable[[str], None]) -> None:
        self.spool, self.ae_title, self.host, self.port = spool, ae_title, host, port
        self._admit, self._received = admit, received
        self._server: Any = None

    def start(self) -> None:
        """Listen in background threads (returns at once)."""
        from pynetdicom import AE, AllStoragePresentationContexts, VerificationPresentationContexts, evt

        ae = AE(ae_title=self.ae_title)
        ae.supported_contexts = [*AllStoragePresentationContexts, *VerificationPresentationContexts]
        self._server = ae.start_server((self.host, self.port), block=False,
                                       evt_handlers=[(evt.EVT_C_STORE, self._store)])

    def stop(self) -> None:
        """Stop listening; associations in progress are aborted (the sender will resend)."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _store(self, event: Any) -> int:
        try:
            dataset = event.dataset
            dataset.file_meta = event.file_meta
            study = str(dataset.StudyInstanceUID)
        except Exception as error:  # noqa: BLE001 (a malformed instance must not stop the listener)
            log.warning("refused an instance that cannot be decoded: %s", error)
            return CANNOT_PROCESS
        if not self._admit(study):
            return OUT_OF_RESOURCES
        folder = self.spool / study
        staging = folder / f".incoming-{uuid.uuid4().hex}"  # one per instance: associations run in parallel
        try:
            if save_fetched(dataset, staging):
                for written in staging.rglob("*.dcm"):
                    target = folder / written.relative_to(staging)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(written, target)
        except OSError as error:
            log.warning("could not write an instance of study %s: %s", study, error)
            return OUT_OF_RESOURCES
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._received(study)
        return SUCCESS


__all__: Sequence[str] = ["CANNOT_PROCESS", "OUT_OF_RESOURCES", "SUCCESS", "StorageServer"]
