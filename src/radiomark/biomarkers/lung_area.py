"""Lung areas on a frontal chest radiograph: right, left and total, and their ratio.

Areas are in cm² when the pixel spacing is known (DICOM PixelSpacing / ImagerPixelSpacing, or
given), else in pixels (UCUM ``{pixels}``) — and then named so, never silently mixed. On a
projection radiograph ImagerPixelSpacing is measured at the detector, so areas include the
geometric magnification of the patient (typically 5–15 %).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.errors import GeometryError
from radiomark.image import LabelMap

_MM2_PER_CM2 = 100.0


class LungAreas(BaseModel):
    """Parameters of the lung-area measures: the labels of the right and the left lung."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    right: str
    left: str

    def label_names(self) -> set[str]:
        """The structures these measures read."""
        return {self.right, self.left}


def structure_area(labels: LabelMap, structures: tuple[str, ...], name: str) -> Measurement:
    """Area of the union of ``structures`` on a 2D label map (cm², or pixels without spacing)."""
    if labels.ndim != 2:
        raise GeometryError(labels.metadata.get("source"), f"an area needs a 2D image, got shape {labels.shape}")
    pixels = int(sum(np.count_nonzero(labels.mask(structure)) for structure in structures))
    structure = structures[0] if len(structures) == 1 else None
    if labels.spacing_mm is None:
        return Measurement(name, pixels, Unit.PIXELS, "pixel count (no pixel spacing known)", structure)
    return Measurement(name, pixels * labels.sample_size / _MM2_PER_CM2, Unit.CM2, "pixel count × pixel area",
                       structure)


def measure_lung_area(labels: LabelMap, spec: LungAreas) -> dict[str, Measurement]:
    """Right, left and total lung area and the right/left ratio, keyed by measurement name."""
    right = structure_area(labels, (spec.right,), "right_lung_area")
    left = structure_area(labels, (spec.left,), "left_lung_area")
    results = {m.name: m for m in (right, left, structure_area(labels, (spec.right, spec.left), "lung_area"))}
    if left.value > 0:
        results["right_left_lung_area_ratio"] = Measurement("right_left_lung_area_ratio", right.value / left.value,
                                                            Unit.RATIO, "right lung area / left lung area")
    return results
