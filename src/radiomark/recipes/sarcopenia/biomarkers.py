"""Measures of the ``sarcopenia`` recipe: body composition of one L3 slice
(:mod:`radiomark.biomarkers.body_composition`)."""

from __future__ import annotations

from radiomark.biomarkers.body_composition import BodyComposition as Parameters
from radiomark.biomarkers.body_composition import measure_body_composition
from radiomark.biomarkers.measurement import Measurement
from radiomark.case import Clinical
from radiomark.image import LabelMap
from radiomark.io.study import StudyImages

__all__ = ["CLINICAL", "SR_CODES", "Parameters", "measure"]

#: The patient data these measures use (SMI needs height, SMA/weight weight, SMA/BMI both).
CLINICAL = frozenset({"height_m", "weight_kg"})
#: DICOM SR code values (at most 16 characters) in radiomark's private scheme.
SR_CODES = {"skeletal_muscle_area": "SMA", "subcutaneous_fat_area": "SATA", "visceral_fat_area": "VATA",
            "intermuscular_fat_area": "IMATA", "vat_sat_ratio": "VATSAT", "skeletal_muscle_mean_attenuation": "SMRA",
            "skeletal_muscle_index": "SMI", "skeletal_muscle_area_per_weight": "SMAWT",
            "skeletal_muscle_area_per_bmi": "SMABMI"}


def measure(study: StudyImages, labels: LabelMap, clinical: Clinical, parameters: Parameters
            ) -> dict[str, Measurement]:
    """Areas (cm²), muscle attenuation (HU) and, with height / weight, the normalised indices."""
    return measure_body_composition(study.image, labels, parameters, clinical.height_m, clinical.weight_kg)
