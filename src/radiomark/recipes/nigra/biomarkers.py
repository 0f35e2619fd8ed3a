"""Measures of the ``nigra`` recipe: substantia nigra volumes, neuromelanin contrast and QSM
(:mod:`radiomark.biomarkers.nigra`)."""

from __future__ import annotations

from radiomark.biomarkers.measurement import Measurement
from radiomark.biomarkers.nigra import Neuromelanin as Parameters
from radiomark.biomarkers.nigra import measure_nigra
from radiomark.case import Clinical
from radiomark.image import LabelMap
from radiomark.io.study import StudyImages

__all__ = ["CLINICAL", "SR_CODES", "Parameters", "measure"]

#: These measures use no patient data.
CLINICAL: frozenset[str] = frozenset()
#: DICOM SR code values (at most 16 characters) in radiomark's private scheme; per-structure volumes
#: of other label names get a derived code (:func:`radiomark.outputs.sr.sr_codes`).
SR_CODES = {"substantia_nigra_right_volume": "SNVOLR", "substantia_nigra_left_volume": "SNVOLL",
            "substantia_nigra_volume": "SNVOL", "crus_cerebri_right_volume": "CCVOLR",
            "crus_cerebri_left_volume": "CCVOLL", "neuromelanin_volume_ratio": "NMVR",
            "neuromelanin_contrast_ratio": "NMCR", "neuromelanin_cnr": "NMCNR", "neuromelanin_sn_volume": "NMSNVOL",
            "qsm_mean": "QSMMEAN", "qsm_mean_above_threshold": "QSMMEANTHR"}


def measure(study: StudyImages, labels: LabelMap, clinical: Clinical, parameters: Parameters
            ) -> dict[str, Measurement]:
    """Volumes (mm³), neuromelanin ratio / contrast measures and, with a QSM map, mean susceptibility."""
    del clinical
    return measure_nigra(study.image, labels, study.qsm, parameters)
