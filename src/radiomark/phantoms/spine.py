"""A synthetic CT volume of the lower thoracic and lumbar spine with ribs, sacrum and iliac
wings, for testing the vertebral-level finder on known anatomy — typical, or transitional (six
lumbar vertebrae, eleven or thirteen rib pairs) — and on crops of it.

Array ``[z inferior → superior, y anterior → posterior, x right → left]`` (the default direction
of :class:`~radiomark.image.Image`), 2 mm voxels, HU. Vertebral bodies are elliptic cylinders of
cancellous bone (~180 HU) with a cortical shell and bright endplates, separated by discs (~80 HU);
posterior elements and transverse processes behind / beside them; ribs are arcs leaving the
thoracic bodies; the sacrum is a wedge whose alae join the iliac wings (2 mm joint gap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radiomark.image import Image

SPACING_MM = 2.0
_SHAPE = (0, 110, 160)  # z rows set by the spine's height
_CENTRE_X = 160.0  # mm
_BODY_Y = 100.0  # mm, vertebral body centre


@dataclass(frozen=True)
class SpinePhantom:
    """The volume and the true centre (z index) of every vertebra, named counting from the top
    (T10 downwards), whatever the transitional anatomy."""

    image: Image
    centres: dict[str, float]


def spine_phantom(lumbar: int = 5, rib_pairs: int = 12, crop_mm: tuple[float, float] | None = None,
                  crest: str = "L4", seed: int = 0) -> SpinePhantom:
    """T10 to the sacrum (with ``lumbar`` lumbar vertebrae and ribs on the vertebrae down to the
    ``rib_pairs``-th), iliac crests at the middle of vertebra ``crest`` (named from the top);
    ``crop_mm`` keeps only that z range (mm from the bottom)."""
    rng = np.random.default_rng(seed)
    names = ["T10", "T11", "T12"] + [f"L{k}" for k in range(1, lumbar + 1)]
    heights = [22.0 if name.startswith("T") else 27.0 for name in names]
    discs = [6.0 if name.startswith("T") else 9.0 for name in names]
    sacrum_mm = 70.0
    total = sacrum_mm + sum(heights) + sum(discs) + 20
    nz = int(total / SPACING_MM)
    hu = np.full((nz, *_SHAPE[1:]), -1000.0)
    z_mm = (np.arange(nz) + 0.5) * SPACING_MM
    y_mm = (np.arange(_SHAPE[1]) + 0.5) * SPACING_MM
    x_mm = (np.arange(_SHAPE[2]) + 0.5) * SPACING_MM
    zz, yy, xx = np.meshgrid(z_mm, y_mm, x_mm, indexing="ij")
    hu[((yy - 110) / 100) ** 2 + ((xx - _CENTRE_X) / 150) ** 2 <= 1] = 35.0  # the body, soft tissue
    body_2d = ((yy - _BODY_Y) / 15) ** 2 + ((xx - _CENTRE_X) / 22) ** 2
    centres: dict[str, float] = {}
    # sacrum: a body narrowing downwards, with alae out to the sacroiliac joints at S1-S2
    sacrum = (zz < sacrum_mm) & (((yy - _BODY_Y - (sacrum_mm - zz) * 0.4) / 14) ** 2
                                 + ((xx - _CENTRE_X) / (18 + zz * 0.12)) ** 2 <= 1)
    alae = (zz > sacrum_mm - 35) & (zz < sacrum_mm) & (np.abs(yy - _BODY_Y - 8) < 9) & (np.abs(xx - _CENTRE_X) < 58)
    hu[sacrum | alae] = 260.0
    top = sacrum_mm
    for name, height, disc in zip(reversed(names), reversed(heights), reversed(discs), strict=True):
        bottom = top + disc
        hu[(zz >= top) & (zz < bottom) & (body_2d <= 1)] = 80.0 + rng.normal(0, 5)
        z0, z1 = bottom, bottom + height
        vertebra = (zz >= z0) & (zz < z1)
        hu[vertebra & (body_2d <= 1)] = 500.0  # cortical shell
        hu[vertebra & (body_2d <= 0.8)] = 170.0 + rng.normal(0, 10)
        hu[((zz >= z0) & (zz < z0 + 2) | (zz >= z1 - 2) & (zz < z1)) & (body_2d <= 1)] = 450.0  # endplates
        arch = (zz >= z0 + 4) & (zz < z1 + 4)
        ring = ((yy - _BODY_Y - 26) / 12) ** 2 + ((xx - _CENTRE_X) / 12) ** 2
        hu[arch & (ring <= 1) & (ring >= 0.45)] = 420.0
        hu[arch & (np.abs(xx - _CENTRE_X) < 3) & (yy > _BODY_Y + 36) & (yy < _BODY_Y + 62)] = 420.0
        if name.startswith("L"):  # transverse processes
            hu[arch & (np.abs(yy - _BODY_Y - 20) < 3) & (np.abs(xx - _CENTRE_X) > 10)
               & (np.abs(xx - _CENTRE_X) < 48)] = 380.0
        centres[name] = (z0 + z1) / 2 / SPACING_MM - 0.5
        top = z1
    order = names
    for name in order[: max(0, rib_pairs - 9)]:  # ribs 10, 11, 12 (, 13) on T10, T11, T12 (, L1)
        start = centres[name] * SPACING_MM + 4
        for side in (-1, 1):
            for phi in np.linspace(0.0, np.deg2rad(100), 50):  # from beside the body, laterally and forwards
                cz = start - 45 * phi / np.deg2rad(100)
                cy = _BODY_Y + 15 - 90 * (1 - np.cos(phi))
                cx = _CENTRE_X + side * (25 + 100 * np.sin(phi))
                box = tuple(slice(max(0, int((c - 5) / SPACING_MM)), max(0, int((c + 5) / SPACING_MM) + 1))
                            for c in (cz, cy, cx))
                near = (zz[box] - cz) ** 2 + (yy[box] - cy) ** 2 + (xx[box] - cx) ** 2 <= 16
                hu[box][near] = 450.0
    crest_mm = centres[crest] * SPACING_MM
    for side in (-1, 1):  # iliac wings: oblique plates from the sacroiliac joint up to the crest
        lateral = np.abs(xx - _CENTRE_X)
        plate = (zz < crest_mm) & (side * (xx - _CENTRE_X) > 60) & (lateral < 130) \
            & (np.abs(yy - (_BODY_Y + 10 - (lateral - 60) * 0.6)) < 4)
        joint = (zz > sacrum_mm - 35) & (zz < sacrum_mm) & (side * (xx - _CENTRE_X) > 60) \
            & (side * (xx - _CENTRE_X) < 66) & (np.abs(yy - _BODY_Y - 8) < 9)
        hu[plate | joint] = 550.0
    hu += rng.normal(0, 12, hu.shape)
    first = 0
    if crop_mm is not None:
        first, last = (int(crop_mm[0] / SPACING_MM), int(crop_mm[1] / SPACING_MM))
        hu = hu[first:last]
        centres = {name: z - first for name, z in centres.items() if 0 <= z - first < last - first}
    image = Image(np.round(hu).astype(np.int16), (SPACING_MM,) * 3, (0.0, 0.0, first * SPACING_MM),
                  metadata={"modality": "CT"})
    return SpinePhantom(image, centres)
