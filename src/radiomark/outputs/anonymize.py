"""De-identification of radiomark's DICOM outputs with dicognito.

dicognito replaces every person name, UID, date, time and the identifying attributes of the DICOM
basic confidentiality profile (patient ID, accession number, institution, ...) with consistent
pseudonyms, removes others (telephone numbers, insurance, ...), and sets PatientIdentityRemoved.
One :class:`~dicognito.anonymizer.Anonymizer` serves a whole run, so every object it touches maps
the same source UID, patient or date to the same replacement: a SEG and the SR that references it
stay linked, and studies of one patient keep one pseudonym. Dates move back by the same random
offset per patient, so intervals are kept. The mapping secret lives in memory only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def new_anonymizer() -> Any:
    """A dicognito ``Anonymizer`` with a fresh random secret (nothing reversible is stored)."""
    from dicognito.anonymizer import Anonymizer

    return Anonymizer()


def anonymize_files(paths: Sequence[str | os.PathLike[str]], anonymizer: Any) -> None:
    """De-identify the DICOM files ``paths`` in place (they are radiomark's own, not yet published,
    outputs inside an atomic output folder; inputs are never passed here)."""
    import pydicom

    for path in paths:
        dataset = pydicom.dcmread(path)
        anonymizer.anonymize(dataset)
        dataset.PatientIdentityRemoved = "YES"  # radiomark's SEG / SR carry no burned-in text
        dataset.save_as(Path(path), enforce_file_format=True)
