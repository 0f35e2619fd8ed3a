"""Biomarkers: pure functions of (Image, LabelMap) returning :class:`Measurement` with units."""

from radiomark.biomarkers.measurement import Measurement, Unit

__all__ = ["Measurement", "Unit"]
