"""The optional outputs a run writes and its treatment of identifying data (light: checked before
any model loads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radiomark.errors import InputError
from radiomark.io.dicom import IDENTIFYING_TAGS


@dataclass(frozen=True)
class OutputOptions:
    """Optional outputs of a case and the treatment of identifying data.

    ``dicom_sr`` implies ``dicom_seg`` (the report's measurements point at the SEG's segments).
    ``anonymizer`` (a dicognito ``Anonymizer``, see :mod:`radiomark.outputs.anonymize`) de-identifies
    seg.dcm / sr.dcm and withholds the source path; ``keep_identifiers`` names the DICOM
    identifiers (:data:`radiomark.io.dicom.IDENTIFYING_TAGS`) shown in the report and tables —
    none by default.
    """

    dicom_seg: bool = False
    dicom_sr: bool = False
    pdf: bool = False
    anonymizer: Any = None
    keep_identifiers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.keep_identifiers) - set(IDENTIFYING_TAGS))
        if unknown:
            raise InputError(None, f"--keep-identifiers: unknown {unknown}; choose from {', '.join(IDENTIFYING_TAGS)}")
        if self.anonymizer is not None and self.keep_identifiers:
            raise InputError(None, "--anonymize and --keep-identifiers contradict each other; give one")
        if self.dicom_sr:
            object.__setattr__(self, "dicom_seg", True)


#: What the outputs say instead of the source path when identifying data is withheld.
WITHHELD = "(withheld: --anonymize)"
