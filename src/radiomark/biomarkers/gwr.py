"""Gray/white-matter ratios of head CT after cardiac arrest, from mean HU of landmark ROIs.

Each structure's mean HU is taken on raw HU over its ROI eroded in the image plane by
``erosion_voxels`` (against partial volume with CSF and neighbours), keeping only voxels inside
``hu_range`` (0–80 HU: no CSF, calcification or bone). Then, with CN caudate nucleus, PU putamen,
PIC posterior limb of the internal capsule and CC corpus callosum (one midline structure):

* ``gwr_bg_right`` / ``gwr_bg_left`` = (CN + PU) / (PIC + CC) of that side;
* ``gwr_bg`` = the same with each grey / white structure's voxels of both sides pooled;
* simplified ratios ``cn_pic`` = CN / PIC and ``pu_pic`` = PU / PIC, per side and pooled.

The cerebral GWR (cortex / white matter at the centrum semiovale and high convexity) and the
average GWR need cortex and white-matter ROIs this recipe does not segment, and are not reported.
A structure whose eroded, range-limited ROI is empty has no mean, and the ratios that need it are
left out; the quality-control flags name the structure. A ratio whose white-matter denominator is
0 HU (not brain: e.g. a label map run as if it were a CT) is left out too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from radiomark.biomarkers.measurement import Measurement, Unit
from radiomark.errors import GeometryError
from radiomark.image import Image, LabelMap


class GrayWhite(BaseModel):
    """Measures of the ``brain-gwr`` recipe (see :mod:`radiomark.biomarkers.gwr`): the structures
    as (right, left) pairs, the midline corpus callosum, the in-plane ROI erosion (voxels) and the
    HU range of the voxels kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    caudate: tuple[str, str]
    putamen: tuple[str, str]
    internal_capsule: tuple[str, str]
    corpus_callosum: str
    erosion_voxels: int = Field(1, ge=0)
    hu_range: tuple[float, float] = (0.0, 80.0)

    def label_names(self) -> set[str]:
        """The structures these measures read."""
        return {*self.caudate, *self.putamen, *self.internal_capsule, self.corpus_callosum}


def roi_values(image: Image, labels: LabelMap, names: Sequence[str], spec: GrayWhite) -> np.ndarray:
    """HU of the voxels of ``names`` (pooled) after in-plane erosion and the HU range."""
    from scipy.ndimage import binary_erosion, generate_binary_structure

    values = np.asarray(image.array, dtype=np.float64)
    in_plane = generate_binary_structure(2, 1)
    structure = in_plane[None] if labels.ndim == 3 else in_plane
    low, high = spec.hu_range
    pooled = []
    for name in names:
        mask = labels.mask(name)
        if spec.erosion_voxels:
            mask = binary_erosion(mask, structure, iterations=spec.erosion_voxels)
        inside = values[mask]
        pooled.append(inside[(inside >= low) & (inside <= high)])
    return np.concatenate(pooled)


def measure_gwr(image: Image, labels: LabelMap, spec: GrayWhite) -> dict[str, Measurement]:
    """The module docstring's measures, keyed by name."""
    if not labels.geometry_equal(image, atol=1e-3):
        raise GeometryError(image.metadata.get("source"), "the label map is not on the image grid")
    method = (f"mean HU of the ROI eroded {spec.erosion_voxels} voxel(s) in plane, voxels in "
              f"{spec.hu_range[0]:g}–{spec.hu_range[1]:g} HU")
    sides = {"right": 0, "left": 1}
    groups: dict[str, tuple[str, ...]] = {}
    for key, pair in (("caudate", spec.caudate), ("putamen", spec.putamen), ("internal_capsule",
                                                                             spec.internal_capsule)):
        groups |= {f"{key}_{side}": (pair[index],) for side, index in sides.items()}
        groups[key] = tuple(pair)
    groups["corpus_callosum"] = (spec.corpus_callosum,)
    means: dict[str, float] = {}
    results: dict[str, Measurement] = {}
    for group, names in groups.items():
        values = roi_values(image, labels, names, spec)
        if values.size:
            means[group] = float(values.mean())
            if len(names) == 1:
                results[f"mean_hu_{group}"] = Measurement(f"mean_hu_{group}", means[group], Unit.HOUNSFIELD, method,
                                                          names[0])
    for suffix, side in (("_right", "_right"), ("_left", "_left"), ("", "")):
        cn, pu, pic = (means.get(f"{key}{side}") for key in ("caudate", "putamen", "internal_capsule"))
        cc = means.get("corpus_callosum")
        where = f" ({side[1:]} side)" if side else " (both sides pooled)"
        if None not in (cn, pu, pic, cc) and pic + cc > 0:  # type: ignore[operator]
            results[f"gwr_bg{suffix}"] = Measurement(f"gwr_bg{suffix}", (cn + pu) / (pic + cc), Unit.RATIO,  # type: ignore[operator]
                                                     f"(CN + PU) / (PIC + CC){where}")
        if cn is not None and pic:
            results[f"cn_pic{suffix}"] = Measurement(f"cn_pic{suffix}", cn / pic, Unit.RATIO, f"CN / PIC{where}")
        if pu is not None and pic:
            results[f"pu_pic{suffix}"] = Measurement(f"pu_pic{suffix}", pu / pic, Unit.RATIO, f"PU / PIC{where}")
    return results
