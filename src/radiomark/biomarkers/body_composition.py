"""Body composition on one axial CT slice (L3): tissue areas, muscle attenuation and the
height-, BMI- and weight-normalised skeletal muscle indices.

Areas use the physical pixel size (cm²); a label map without spacing raises
:class:`~radiomark.errors.GeometryError`, never falls back to pixel counts.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.errors import GeometryError, InputError
from radiomark.image import Image, LabelMap

_MM2_PER_CM2 = 100.0


class BodyComposition(BaseModel):
    """Parameters of the body-composition measures: which labels are skeletal muscle, subcutaneous
    and visceral fat, and the HU window (inclusive) over which muscle attenuation is averaged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    muscle: str
    subcutaneous_fat: str
    visceral_fat: str
    muscle_hu_range: tuple[float, float]

    def label_names(self) -> set[str]:
        """The structures these measures read."""
        return {self.muscle, self.subcutaneous_fat, self.visceral_fat}


def tissue_area(labels: LabelMap, structure: str) -> Measurement:
    """Cross-sectional area (cm²) of ``structure`` on a single-slice label map."""
    if labels.ndim != 2:
        raise GeometryError(labels.metadata.get("source"),
                            f"an area needs a single slice, this label map has shape {labels.shape}")
    area_cm2 = np.count_nonzero(labels.mask(structure)) * labels.sample_size / _MM2_PER_CM2
    return Measurement(f"{structure}_area", area_cm2, Unit.CM2, "pixel count × pixel area", structure)


def mean_attenuation(image: Image, labels: LabelMap, structure: str,
                     hu_range: tuple[float, float] | None) -> Measurement:
    """Mean HU of ``structure``, over the pixels within ``hu_range`` (all pixels when ``None``)."""
    if not image.geometry_equal(labels):
        raise GeometryError(image.metadata.get("source"), "the label map is not on the image grid; "
                                                          "resample it to the image first")
    values = np.asarray(image.array, dtype=np.float64)[labels.mask(structure)]
    if hu_range is not None:
        values = values[(values >= hu_range[0]) & (values <= hu_range[1])]
    method = ("mean of all ROI pixels" if hu_range is None
              else f"mean of ROI pixels in [{hu_range[0]:g}, {hu_range[1]:g}] HU")
    if values.size == 0:
        raise InputError(image.metadata.get("source"), f"no {structure} pixels to average ({method})")
    return Measurement(f"{structure}_mean_attenuation", float(values.mean()), Unit.HOUNSFIELD, method, structure)


def _positive(value: float, name: str, unit: str) -> float:
    if not np.isfinite(value) or value <= 0:
        raise InputError(None, f"{name} must be a positive number of {unit}, got {value}")
    return float(value)


def skeletal_muscle_index(muscle_area: Measurement, height_m: float) -> Measurement:
    """SMI = skeletal muscle area / height² (cm²/m²)."""
    height = _positive(height_m, "height", "metres")
    return Measurement("skeletal_muscle_index", muscle_area.value / height**2, Unit.CM2_PER_M2,
                       "SMA / height²", muscle_area.structure)


def muscle_area_per_bmi(muscle_area: Measurement, height_m: float, weight_kg: float) -> Measurement:
    """SMA / BMI, with BMI = weight / height² (cm² per kg/m², UCUM ``cm2.m2/kg``)."""
    bmi = _positive(weight_kg, "weight", "kilograms") / _positive(height_m, "height", "metres") ** 2
    return Measurement("skeletal_muscle_area_per_bmi", muscle_area.value / bmi, Unit.CM2_M2_PER_KG, "SMA / BMI",
                       muscle_area.structure)


def muscle_area_per_weight(muscle_area: Measurement, weight_kg: float) -> Measurement:
    """SMA / body weight (cm²/kg)."""
    weight = _positive(weight_kg, "weight", "kilograms")
    return Measurement("skeletal_muscle_area_per_weight", muscle_area.value / weight,
                       Unit.CM2_PER_KG, "SMA / weight", muscle_area.structure)


def measure_body_composition(image: Image, labels: LabelMap, spec: BodyComposition, height_m: float | None = None,
                             weight_kg: float | None = None) -> dict[str, Measurement]:
    """All body-composition measures of one L3 slice, keyed by measurement name.

    Areas of every labelled tissue (cm²), VAT/SAT, skeletal muscle mean HU in the muscle window,
    and — when height and weight are given — SMI, SMA/BMI and SMA/weight. An intermuscular fat
    label, when the recipe segments it, gets its area too.
    """
    results = {m.name: m for m in (tissue_area(labels, name) for name in labels.labels.values())}
    muscle = results[f"{spec.muscle}_area"]
    visceral, subcutaneous = results[f"{spec.visceral_fat}_area"], results[f"{spec.subcutaneous_fat}_area"]
    if subcutaneous.value > 0:
        results["vat_sat_ratio"] = Measurement("vat_sat_ratio", visceral.value / subcutaneous.value, Unit.RATIO,
                                               "VAT area / SAT area")
    if muscle.value > 0:
        attenuation = mean_attenuation(image, labels, spec.muscle, spec.muscle_hu_range)
        results[attenuation.name] = attenuation
    if height_m is not None:
        results["skeletal_muscle_index"] = skeletal_muscle_index(muscle, height_m)
    if weight_kg is not None:
        results["skeletal_muscle_area_per_weight"] = muscle_area_per_weight(muscle, weight_kg)
    if height_m is not None and weight_kg is not None:
        results["skeletal_muscle_area_per_bmi"] = muscle_area_per_bmi(muscle, height_m, weight_kg)
    return results
