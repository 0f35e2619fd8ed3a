"""Substantia nigra measures on neuromelanin-sensitive / multi-echo GRE MRI and QSM.

Intensities are those of the first input image (echo 1, or the neuromelanin-sensitive image),
in the scanner's arbitrary units, so only ratios of them are reported; volumes are in mm³ from
the voxel spacing; susceptibility in ppm. Standard deviations use ``ddof=0``.

* ``substantia_nigra_volume`` (and per structure): voxel count × voxel volume.
* ``neuromelanin_volume_ratio`` (the seed study's measure, not a published convention): ROI voxels
  above mean + 3 SD divided by ROI voxels above mean + 1 SD, the mean and SD taken over the region
  the recipe names (``ratio_statistics``: the ROI itself, as the study did, or the reference).
* ``neuromelanin_contrast_ratio`` CR = (SI_SN − SI_ref) / SI_ref and ``neuromelanin_cnr``
  CNR = (SI_SN − SI_ref) / SD_ref, the reference being the crus cerebri (mean signal over each
  region).
* ``neuromelanin_sn_volume``: ROI voxels above μ_ref + 3 σ_ref, in mm³.
* ``qsm_mean_above_threshold`` (mean susceptibility of ROI voxels above 0.015 ppm) and
  ``qsm_mean`` (over the whole ROI), when a QSM map is given.

A measure whose region is empty (or whose ratio has a zero denominator) is left out rather than
reported as a number; the quality-control flags say which structure was not found.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap


class Neuromelanin(BaseModel):
    """Measures of the ``nigra`` recipe (see :mod:`radiomark.biomarkers.nigra`).

    ``roi`` and ``reference`` name the structures of the substantia nigra and of the reference
    region (crus cerebri); intensities are those of the first input echo. The volume ratio
    counts ROI voxels above mean + ``ratio_high_sd`` SD over those above mean +
    ``ratio_low_sd`` SD, mean and SD taken over ``ratio_statistics`` (the ROI itself, as the seed
    study did, or the reference region). ``nm_volume_sd``: the NM-SN volume holds ROI voxels above
    reference mean + that many reference SDs. QSM: mean susceptibility of ROI voxels above
    ``qsm_threshold_ppm``, and of the whole ROI.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    roi_name: str = "substantia_nigra"
    roi: tuple[str, ...]
    reference: tuple[str, ...]
    ratio_high_sd: float = 3.0
    ratio_low_sd: float = 1.0
    ratio_statistics: Literal["roi", "reference"] = "roi"
    nm_volume_sd: float = 3.0
    qsm_threshold_ppm: float = 0.015

    def label_names(self) -> set[str]:
        """The structures these measures read."""
        return {*self.roi, *self.reference}


def _union(labels: LabelMap, names: tuple[str, ...]) -> np.ndarray:
    return np.logical_or.reduce([labels.mask(name) for name in names])


def measure_nigra(image: Image, labels: LabelMap, qsm: Image | None, spec: Neuromelanin) -> dict[str, Measurement]:
    """The measures of the module docstring, keyed by name; ``image`` and ``qsm`` on ``labels``' grid."""
    for other in (image, qsm):
        if other is not None and not labels.geometry_equal(other, atol=1e-3):
            raise GeometryError(other.metadata.get("source"), "the label map is not on the image grid")
    voxel_mm3 = labels.sample_size
    roi, reference = _union(labels, spec.roi), _union(labels, spec.reference)
    values = np.asarray(image.array, dtype=np.float64)
    results: list[Measurement] = [
        Measurement(f"{name}_volume", np.count_nonzero(labels.mask(name)) * voxel_mm3, Unit.MM3,
                    "voxel count × voxel volume", name) for name in spec.roi]
    results.append(Measurement(f"{spec.roi_name}_volume", np.count_nonzero(roi) * voxel_mm3, Unit.MM3,
                               "voxel count × voxel volume, both sides"))
    sn = values[roi]
    ref = values[reference]
    if sn.size:
        region = sn if spec.ratio_statistics == "roi" else ref
        if region.size:
            mean, sd = region.mean(), region.std()
            above_low = np.count_nonzero(sn > mean + spec.ratio_low_sd * sd)
            if above_low:
                results.append(Measurement(
                    "neuromelanin_volume_ratio", np.count_nonzero(sn > mean + spec.ratio_high_sd * sd) / above_low,
                    Unit.RATIO, f"ROI voxels > mean + {spec.ratio_high_sd:g} SD / > mean + {spec.ratio_low_sd:g} SD, "
                                f"statistics over the {spec.ratio_statistics}, first image"))
    if sn.size and ref.size:
        ref_mean, ref_sd = ref.mean(), ref.std()
        if ref_mean:
            results.append(Measurement("neuromelanin_contrast_ratio", (sn.mean() - ref_mean) / ref_mean, Unit.RATIO,
                                       "(mean SN − mean reference) / mean reference, first image"))
        if ref_sd:
            results.append(Measurement("neuromelanin_cnr", (sn.mean() - ref_mean) / ref_sd, Unit.RATIO,
                                       "(mean SN − mean reference) / SD reference, first image"))
        results.append(Measurement(
            "neuromelanin_sn_volume", np.count_nonzero(sn > ref_mean + spec.nm_volume_sd * ref_sd) * voxel_mm3,
            Unit.MM3, f"ROI voxels above reference mean + {spec.nm_volume_sd:g} SD × voxel volume"))
    if qsm is not None and sn.size:
        susceptibility = np.asarray(qsm.array, dtype=np.float64)[roi]
        results.append(Measurement("qsm_mean", susceptibility.mean(), Unit.PPM, "mean QSM over the ROI"))
        above = susceptibility[susceptibility > spec.qsm_threshold_ppm]
        if above.size:
            results.append(Measurement("qsm_mean_above_threshold", above.mean(), Unit.PPM,
                                       f"mean QSM of ROI voxels above {spec.qsm_threshold_ppm:g} ppm"))
    return {measurement.name: measurement for measurement in results}
