"""Measures of the ``brain-gwr`` recipe: mean HU of eroded deep grey / white matter ROIs and their
ratios (:mod:`radiomark.biomarkers.gwr`)."""

from __future__ import annotations

from radiomark.biomarkers.gwr import GrayWhite as Parameters
from radiomark.biomarkers.gwr import measure_gwr
from radiomark.biomarkers.measurement import Measurement
from radiomark.case import Clinical
from radiomark.image import LabelMap
from radiomark.io.study import StudyImages

__all__ = ["CLINICAL", "SR_CODES", "Parameters", "measure"]

#: These measures use no patient data.
CLINICAL: frozenset[str] = frozenset()
_SIDES = {"": "", "_right": "R", "_left": "L"}
#: DICOM SR code values (at most 16 characters) in radiomark's private scheme.
SR_CODES = {
    **{f"gwr_bg{side}": f"GWRBG{code}" for side, code in _SIDES.items()},
    **{f"cn_pic{side}": f"CNPIC{code}" for side, code in _SIDES.items()},
    **{f"pu_pic{side}": f"PUPIC{code}" for side, code in _SIDES.items()},
    **{f"mean_hu_{structure}{side}": f"HU{short}{code}" for structure, short in
       (("caudate", "CN"), ("putamen", "PU"), ("internal_capsule", "PIC"), ("corpus_callosum", "CC"))
       for side, code in _SIDES.items()},
}


def measure(study: StudyImages, labels: LabelMap, clinical: Clinical, parameters: Parameters
            ) -> dict[str, Measurement]:
    """Mean HU per structure and side, GWR_BG, CN/PIC and PU/PIC (both sides and each side)."""
    del clinical
    return measure_gwr(study.image, labels, parameters)
