"""A measured value with its unit (UCUM code, as DICOM SR wants it) and how it was obtained."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from radiomark.errors import InputError


class Unit(StrEnum):
    """UCUM codes of the units radiomark reports."""

    CM2 = "cm2"
    MM2 = "mm2"
    MM = "mm"
    MM3 = "mm3"
    CM2_PER_M2 = "cm2/m2"
    CM2_PER_KG = "cm2/kg"
    CM2_M2_PER_KG = "cm2.m2/kg"  # SMA / BMI: cm² per (kg/m²)
    HOUNSFIELD = "[hnsf'U]"
    PPM = "[ppm]"
    RATIO = "1"
    PIXELS = "{pixels}"  # UCUM annotation of a dimensionless count: areas of uncalibrated images


@dataclass(frozen=True)
class Measurement:
    """One biomarker value.

    Attributes:
        name: what was measured, e.g. ``"skeletal_muscle_area"``.
        value: the number, in ``unit``.
        unit: UCUM unit code.
        method: how it was computed (short, human-readable).
        structure: the label-map structure it refers to, if any.
    """

    name: str
    value: float
    unit: Unit
    method: str
    structure: str | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise InputError(None, f"{self.name} is not a finite number ({self.value})")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "unit", Unit(self.unit))
