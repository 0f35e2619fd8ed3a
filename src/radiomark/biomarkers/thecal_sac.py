"""Thecal (dural) sac measures on an axial slice: width, AP diameter and cross-sectional area.

At lumbar levels the spinal cord has ended (at L1–L2): what the seed study called "spinal cord
width" is the thecal sac, the CSF-filled dural tube with the cauda equina. Width is the sac's
extent left–right, the AP diameter its extent front–back, both in mm over whole pixels (the
extent along an image axis, assigned to left–right or front–back by the LPS direction of that
axis); the area counts pixels times the pixel area (mm²). Stenosis references: AP < 10 mm
(absolute), dural-sac area < 100 mm².
"""

from __future__ import annotations

import numpy as np

from radiomark.errors import InputError
from radiomark.image import Image


def thecal_sac_measures(mask: np.ndarray, image: Image) -> dict[str, float]:
    """``thecal_sac_width_mm``, ``thecal_sac_ap_mm``, ``thecal_sac_area_mm2`` of the non-zero
    pixels of the 2D ``mask`` on ``image``'s grid (zeros when the mask is empty)."""
    mask = np.asarray(mask) > 0
    if image.ndim != 2 or mask.shape != image.shape:
        raise InputError(image.metadata.get("source"), f"the canal mask {mask.shape} is not on the 2D slice's grid "
                                                       f"{image.shape}")
    spacing = image.require_spacing()
    extents = {}
    for axis in (0, 1):
        covered = np.flatnonzero(mask.any(axis=1 - axis))
        length = float((covered.max() - covered.min() + 1) * spacing[axis]) if covered.size else 0.0
        lps = int(np.argmax(np.abs(image.direction[:, axis])))  # 0 left-right, 1 front-back, 2 up-down
        extents[lps] = length
    if set(extents) != {0, 1}:
        raise InputError(image.metadata.get("source"), "the slice is not axial: no left–right and front–back axes")
    return {"thecal_sac_width_mm": extents[0], "thecal_sac_ap_mm": extents[1],
            "thecal_sac_area_mm2": float(mask.sum() * spacing[0] * spacing[1])}
