"""Measures of the ``neonatal-rds`` recipe: lung areas on a frontal chest radiograph
(:mod:`radiomark.biomarkers.lung_area`)."""

from __future__ import annotations

from radiomark.biomarkers.lung_area import LungAreas as Parameters
from radiomark.biomarkers.lung_area import measure_lung_area
from radiomark.biomarkers.measurement import Measurement
from radiomark.case import Clinical
from radiomark.image import LabelMap
from radiomark.io.study import StudyImages

__all__ = ["CLINICAL", "SR_CODES", "Parameters", "measure"]

#: These measures use no patient data.
CLINICAL: frozenset[str] = frozenset()
#: DICOM SR code values (at most 16 characters) in radiomark's private scheme.
SR_CODES = {"right_lung_area": "RLUNGA", "left_lung_area": "LLUNGA", "lung_area": "LUNGA",
            "right_left_lung_area_ratio": "RLLUNGAR"}


def measure(study: StudyImages, labels: LabelMap, clinical: Clinical, parameters: Parameters
            ) -> dict[str, Measurement]:
    """Right, left and total lung area (cm², or pixels without spacing) and their ratio."""
    del clinical
    return measure_lung_area(labels, parameters)
