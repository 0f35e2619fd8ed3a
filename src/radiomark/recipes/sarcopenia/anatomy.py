"""Procedural abdominal anatomy at the L3 level, for training the sarcopenia model on shape and
context rather than on HU (in the spirit of SynthSeg: Billot et al., Med Image Anal 2023).

A slice is made in two steps, both deterministic per seed:

1. :func:`anatomy` draws a map of about thirty structures (:class:`S`) — skin, subcutaneous fat
   with fascia, rectus / obliques / transversus / latissimus, psoas, quadratus lumborum,
   paraspinal muscles with intermuscular fat, vertebral body with posterior elements and spinal
   canal, kidneys (cortex, medulla, sinus fat, pelvis), liver and spleen tips, small-bowel loops
   (fluid, gas, oral contrast, collapsed), colon with feces, aorta (sometimes calcified), IVC,
   mesenteric vessels, visceral fat, sometimes ascites, a lesion, ribs, arms down at the sides,
   and the CT table — for a random patient (sex, age, habitus from cachectic to obese, left/right
   asymmetry, off-centre, truncated field of view), elastically deformed and rotated.
2. :func:`render` paints it in HU: per structure a value drawn from published ranges for a random
   contrast phase (non-contrast, arterial, portal-venous, delayed) and then shifted beyond them,
   low-frequency texture per structure, a kVp shift, a bias field, sometimes beam hardening and
   metal streaks, blur (reconstruction kernel) and correlated noise.

Geometry: rows run anterior → posterior, columns from the patient's right to left (the DICOM
axial convention); the map is built in millimetres about the centre of the grid.
The training target (:data:`TARGET`) is skeletal muscle of the trunk (arms excluded, as at L3 in
the clinical protocols), subcutaneous fat, and visceral fat (intra-abdominal and retroperitoneal,
renal sinus fat included; intermuscular fat excluded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import torch

from radiomark.image import Image, LabelMap
from radiomark.phantoms.shapes import elastic_deform, rotate_labels


class S(IntEnum):
    """Structures of the procedural slice (0 is air)."""

    AIR = 0
    SKIN = 1
    SAT = 2
    FASCIA = 3
    RECTUS = 4
    WALL = 5  # external / internal oblique, transversus
    LATISSIMUS = 6
    PSOAS = 7
    QUADRATUS = 8
    PARASPINAL = 9
    IMAT = 10  # intermuscular fat
    VERTEBRA = 11
    CORTEX_BONE = 12
    CANAL = 13
    KIDNEY_CORTEX = 14
    KIDNEY_MEDULLA = 15
    RENAL_SINUS = 16
    RENAL_PELVIS = 17
    LIVER = 18
    SPLEEN = 19
    BOWEL_WALL = 20
    BOWEL_FLUID = 21
    BOWEL_GAS = 22
    ORAL_CONTRAST = 23
    FECES = 24
    AORTA = 25
    CALCIUM = 26
    IVC = 27
    MESENTERIC_VESSEL = 28
    VAT = 29
    ASCITES = 30
    LESION = 31
    RIB = 32
    ARM_MUSCLE = 33
    ARM_FAT = 34
    HUMERUS = 35
    TABLE = 36
    METAL = 37
    LINEA_ALBA = 38
    PANCREAS = 39
    GALLBLADDER = 40
    LUNG = 41


#: Training labels (recipe values) of the structures; every other structure is background.
TARGET = {S.RECTUS: 1, S.WALL: 1, S.LATISSIMUS: 1, S.PSOAS: 1, S.QUADRATUS: 1, S.PARASPINAL: 1,
          S.SAT: 2, S.FASCIA: 2, S.VAT: 3, S.RENAL_SINUS: 3}

PHASES = ("non_contrast", "arterial", "portal_venous", "delayed")


@dataclass(frozen=True)
class Patient:
    """What drives one synthetic slice: sex, age (years), habitus (0 cachectic … 1 obese),
    muscularity (0.5 … 1.4, scales muscle size), arms down at the sides, and the slice's
    craniocaudal position ``level_offset`` in vertebrae from the middle of L3 (−2 ≈ L1, −1 ≈ L2,
    +1 ≈ L4; negative is cranial)."""

    sex: str
    age: int
    habitus: float
    muscularity: float
    arms_down: bool
    level_offset: float


def draw_patient(rng: np.random.Generator) -> Patient:
    sex = "F" if rng.random() < 0.5 else "M"
    age = int(rng.integers(20, 95))
    habitus = float(np.clip(rng.beta(2.0, 2.0) * 1.1 - 0.05, 0.0, 1.0))
    muscularity = float(np.clip(rng.normal(1.0 if sex == "M" else 0.82, 0.18) - max(0, age - 60) * 0.006,
                                0.45, 1.4))
    # half the slices about L3, half anywhere from T12/L1 to L4/L5: the level finder and
    # `--level` measure at other levels, and a slightly wrong level must not turn organs into muscle
    level_offset = float(rng.normal(0, 0.35) if rng.random() < 0.5 else rng.uniform(-2.6, 1.4))
    return Patient(sex, age, habitus, muscularity, bool(rng.random() < 0.25), level_offset)


class _Canvas:
    """A structure map being drawn, with the millimetre coordinates of its samples."""

    def __init__(self, shape: tuple[int, int], spacing_mm: float) -> None:
        self.map = np.zeros(shape, dtype=np.int16)
        rows, columns = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
        self.y = (rows - (shape[0] - 1) / 2) * spacing_mm  # mm, + posterior
        self.x = (columns - (shape[1] - 1) / 2) * spacing_mm  # mm, + patient's left

    def ellipse(self, centre: Sequence[float], radii: Sequence[float] | np.ndarray, angle_deg: float = 0.0
                ) -> np.ndarray:
        """Mask of an ellipse with ``radii`` (AP, LR mm) about ``centre`` (y, x mm), rotated
        (evaluated only in the ellipse's bounding square)."""
        mask = np.zeros(self.map.shape, dtype=bool)
        reach = max(radii)
        rows = np.nonzero(np.abs(self.y[:, 0] - centre[0]) <= reach)[0]
        columns = np.nonzero(np.abs(self.x[0] - centre[1]) <= reach)[0]
        if rows.size == 0 or columns.size == 0:
            return mask
        window = (slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
        theta = np.deg2rad(angle_deg)
        dy, dx = self.y[window] - centre[0], self.x[window] - centre[1]
        u = np.cos(theta) * dy + np.sin(theta) * dx
        v = -np.sin(theta) * dy + np.cos(theta) * dx
        mask[window] = (u / radii[0]) ** 2 + (v / radii[1]) ** 2 <= 1.0
        return mask

    def paint(self, mask: np.ndarray, structure: S, over: Sequence[S] | None = None) -> None:
        """Set ``structure`` where ``mask`` holds (only over the structures ``over``, when given)."""
        if over is not None:
            mask = mask & np.isin(self.map, [int(s) for s in over])
        self.map[mask] = int(structure)


def _contour(rng: np.random.Generator, theta: np.ndarray, terms: int, amplitude: float) -> np.ndarray:
    """A smooth random periodic function of the angle ``theta`` (radians), about 0."""
    result = np.zeros_like(theta)
    for k in range(2, 2 + terms):
        result += rng.normal(0, amplitude / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return result


def anatomy(rng: np.random.Generator, patient: Patient, size: int = 256
            ) -> tuple[np.ndarray, float]:
    """The structure map (:class:`S` values, ``size`` columns, rows possibly cropped) and its pixel
    spacing in mm."""
    habitus, muscle = patient.habitus, patient.muscularity
    female = patient.sex == "F"
    sat_base = 4 + habitus * (45 if female else 32) + rng.normal(0, 4)
    vat_factor = habitus * (1.0 if not female else 0.6) * rng.uniform(0.6, 1.3)
    half_lr = 115 + 65 * habitus + 15 * (not female) + sat_base * 0.6 + rng.normal(0, 8)
    half_ap = half_lr * rng.uniform(0.62, 0.82) + habitus * 15
    fov = float(np.clip(2 * half_lr * rng.uniform(0.92, 1.45) + (100 if patient.arms_down else 0), 300, 500))
    spacing = fov / size
    canvas = _Canvas((size, size), spacing)
    y, x = canvas.y, canvas.x
    cy, cx = rng.normal(0, 12), rng.normal(0, 18)  # patient off-centre (table height, lateral shift)
    theta = np.arctan2(x - cx, -(y - cy))  # 0 anterior, + towards the patient's left
    r = np.hypot(x - cx, y - cy)
    ellipse_r = 1.0 / np.sqrt((np.cos(theta) / half_ap) ** 2 + (np.sin(theta) / half_lr) ** 2)
    r_body = ellipse_r * (1 + _contour(rng, theta, 4, 0.05))
    back = cy + half_ap * rng.uniform(0.82, 0.95)  # the back flattened on the table
    body = (r <= r_body) & (y <= back)
    depth = np.where(body, np.minimum(r_body - r, back - y), -1.0)  # mm under the skin

    sat_t = sat_base * (1 + 0.35 * np.cos(theta) ** 2 + _contour(rng, theta, 3, 0.25))
    sat_t += (female * habitus * 12) * (np.abs(np.sin(theta)) > 0.7)  # hips / flanks
    sat_t = np.maximum(sat_t, 2.5)
    canvas.paint(body, S.SAT)
    canvas.paint(body & (depth < rng.uniform(1.5, 3.0)), S.SKIN)
    for fraction in rng.uniform(0.3, 0.8, int(rng.integers(0, 3))):  # Scarpa's and other fascia
        canvas.paint(body & (np.abs(depth - fraction * sat_t) < spacing * 0.6), S.FASCIA, over=[S.SAT])

    # abdominal wall by angle: rectus | obliques + transversus | latissimus / posterior layer
    abs_theta = np.abs(theta)
    rectus_t = (7 + 8 * muscle) * rng.uniform(0.8, 1.2)
    wall_t = (5 + 12 * muscle) * rng.uniform(0.8, 1.25) * (1 + _contour(rng, theta, 2, 0.15))
    wall_t = np.where(abs_theta < np.deg2rad(25), rectus_t, wall_t)
    wall_t = np.where(abs_theta > np.deg2rad(120), 3 + 4 * muscle, wall_t)
    wall_t = np.where(abs_theta < np.deg2rad(rng.uniform(1.5, 4)), 2.0, wall_t)
    inner = sat_t + wall_t
    wall = body & (depth >= sat_t) & (depth < inner)
    canvas.paint(wall & (abs_theta < np.deg2rad(25)), S.RECTUS)
    canvas.paint(wall & (abs_theta >= np.deg2rad(25)) & (abs_theta <= np.deg2rad(120)), S.WALL)
    canvas.paint(wall & (abs_theta > np.deg2rad(120)), S.LATISSIMUS)
    canvas.paint(wall & (abs_theta < np.deg2rad(3.5)) & (depth < sat_t + 2.5), S.LINEA_ALBA)
    for fraction in (0.33, 0.66):  # fat planes between the three lateral muscles
        plane = np.abs(depth - (sat_t + fraction * wall_t)) < spacing * 0.5
        canvas.paint(wall & plane & (abs_theta > np.deg2rad(35)) & (abs_theta < np.deg2rad(115)), S.IMAT)
    cavity = body & (depth >= inner)
    canvas.paint(cavity, S.VAT)

    # spine and the posterior muscles
    posterior_inner = back - (sat_base * rng.uniform(0.6, 1.2) + 3 + 4 * muscle)
    paraspinal_ap = (32 + 28 * muscle) * rng.uniform(0.85, 1.15)
    body_ry, body_rx = rng.uniform(14, 18), rng.uniform(20, 26)
    ys = posterior_inner - paraspinal_ap - 16 - body_ry
    xs = cx + rng.normal(0, 3)
    canal = (ys + body_ry + 9, xs)
    for side in (-1, 1):
        asym = rng.uniform(0.85, 1.15)
        para = (posterior_inner - paraspinal_ap / 2, xs + side * (20 + 8 * muscle))
        canvas.paint(canvas.ellipse(para, (paraspinal_ap / 2 + 4, (22 + 14 * muscle) * asym)) & body, S.PARASPINAL)
        canvas.paint(canvas.ellipse((para[0] + rng.uniform(-8, 8), para[1] + side * 6),
                                    (rng.uniform(1, 3), rng.uniform(6, 14)), rng.uniform(-40, 40))
                     & body, S.IMAT, over=[S.PARASPINAL])
        ql = (ys + body_ry * 0.6, xs + side * (body_rx + 38 + 6 * muscle))
        canvas.paint(canvas.ellipse(ql, ((8 + 6 * muscle) * asym, 14 + 8 * muscle), side * rng.uniform(-50, -20))
                     & body, S.QUADRATUS)
        canvas.paint(canvas.ellipse((ys + body_ry * 0.8, xs + side * (body_rx + 18)), (3.5, 22))
                     & body, S.CORTEX_BONE)  # transverse process
        psoas_scale = float(np.clip(1 + 0.3 * patient.level_offset, 0.3, 1.35)) * asym
        psoas = (ys - 2, xs + side * (body_rx + 4 + 12 * muscle * psoas_scale))
        canvas.paint(canvas.ellipse(psoas, ((10 + 12 * muscle) * psoas_scale, (9 + 11 * muscle) * psoas_scale),
                                    side * rng.uniform(10, 40)) & body, S.PSOAS)
    canvas.paint(canvas.ellipse((canal[0] + 4, xs), (13, 15)), S.CORTEX_BONE)  # lamina ring
    canvas.paint(canvas.ellipse((canal[0] + 1, xs), (12, 6)) & (y > canal[0] + 10)
                 | ((np.abs(x - xs) < 3.5) & (y > canal[0]) & (y < posterior_inner - 3)), S.CORTEX_BONE)
    canvas.paint(canvas.ellipse(canal, (8, 11)), S.CANAL)
    vertebra = canvas.ellipse((ys, xs), (body_ry, body_rx))
    canvas.paint(vertebra, S.CORTEX_BONE)
    canvas.paint(canvas.ellipse((ys, xs), (body_ry - 2, body_rx - 2)), S.VERTEBRA)
    if rng.random() < 0.05:  # pedicle screws
        for side in (-1, 1):
            canvas.paint(canvas.ellipse((ys + 2, xs + side * 10), (16, 3), side * 20), S.METAL)

    _viscera(canvas, rng, patient, cavity, (ys, xs), (body_ry, body_rx), vat_factor, r_body, cy, cx, depth, inner)

    cranial = float(np.clip(-patient.level_offset / 2, 0, 1))  # 0 at L3 and below, 1 at L1
    for side in (-1, 1):  # ribs cut in the wall: lateral at L3, round to the back towards L1
        for _ in range(int(rng.integers(0, int(3 + 3 * cranial)))):
            angle = np.deg2rad(rng.uniform(55, 115 + 40 * cranial)) * side
            order = np.argsort(theta.ravel())
            d = float(np.interp(angle, theta.ravel()[order], sat_t.ravel()[order]))
            radius = float(np.interp(angle, theta.ravel()[order], r_body.ravel()[order])) - d - 6
            centre = (cy - np.cos(angle) * radius, cx + np.sin(angle) * radius)
            canvas.paint(canvas.ellipse(centre, (rng.uniform(4, 7), rng.uniform(8, 14)), np.rad2deg(angle)), S.RIB,
                         over=[S.WALL, S.VAT, S.SAT])
    if patient.arms_down:
        for side in (-1, 1):
            arm = (cy + rng.normal(0, 15), cx + side * (half_lr + rng.uniform(40, 60)))
            radii = np.array([rng.uniform(38, 50), rng.uniform(35, 45)]) * (1 + 0.3 * habitus)
            canvas.paint(canvas.ellipse(arm, radii), S.ARM_FAT, over=[S.AIR])
            canvas.paint(canvas.ellipse(arm, radii * rng.uniform(0.6, 0.8)), S.ARM_MUSCLE, over=[S.ARM_FAT])
            canvas.paint(canvas.ellipse(arm, (10, 10)), S.HUMERUS, over=[S.ARM_MUSCLE])
    if rng.random() < 0.85:  # the table, curved under the patient
        top = back + rng.uniform(2, 25) + 0.0008 * (x - cx) ** 2
        canvas.paint((y >= top) & (y < top + rng.uniform(3, 12)), S.TABLE, over=[S.AIR])
        canvas.paint((y >= top + 20) & (y < top + 24), S.TABLE, over=[S.AIR])

    tissue = elastic_deform(canvas.map, rng, amplitude=rng.uniform(1.0, 5.0))
    tissue = rotate_labels(tissue, rng.normal(0, 4))
    if rng.random() < 0.3:  # a tighter reconstruction: rows cropped around the body
        rows = np.nonzero((tissue != S.AIR).any(axis=1))[0]
        first_row = max(0, int(rows[0]) - int(rng.integers(2, 20)))
        last_row = min(size, int(rows[-1]) + int(rng.integers(2, 20)))
        tissue = tissue[first_row:last_row]
    return tissue, spacing


def _viscera(canvas: _Canvas, rng: np.random.Generator, patient: Patient, cavity: np.ndarray,
             spine: tuple[float, float], spine_radii: tuple[float, float], vat_factor: float,
             r_body: np.ndarray, cy: float, cx: float, depth: np.ndarray, inner: np.ndarray) -> None:
    """Retroperitoneal organs, vessels and bowel inside ``cavity`` (painted over visceral fat)."""
    ys, xs = spine
    body_ry, body_rx = spine_radii
    y, x = canvas.y, canvas.x
    fat = [S.VAT]
    # great vessels in front of the spine
    aorta_r = rng.uniform(7, 13) * (1 + 0.4 * (patient.age > 70) * rng.random())
    aorta = (ys - body_ry - aorta_r - rng.uniform(0, 6), xs + rng.uniform(4, 16))
    canvas.paint(canvas.ellipse(aorta, (aorta_r, aorta_r)), S.AORTA, over=fat + [S.PSOAS])
    if rng.random() < min(0.9, patient.age / 90):
        for _ in range(int(rng.integers(1, 4))):
            angle = rng.uniform(0, 2 * np.pi)
            spot = (aorta[0] + np.cos(angle) * aorta_r * 0.9, aorta[1] + np.sin(angle) * aorta_r * 0.9)
            canvas.paint(canvas.ellipse(spot, (rng.uniform(1, 2.5), rng.uniform(1.5, 4)), np.rad2deg(angle)),
                         S.CALCIUM)
    ivc = (ys - body_ry - rng.uniform(6, 14), xs - rng.uniform(18, 30))
    canvas.paint(canvas.ellipse(ivc, (rng.uniform(4, 10), rng.uniform(9, 15)), rng.uniform(-20, 20)), S.IVC,
                 over=fat + [S.PSOAS])
    z = patient.level_offset
    # kidneys: an ellipsoid each, centred about L1-L2 (the right a little lower), so L3 cuts the
    # lower poles and L1-L2 the hilum, where the sinus fat opens medially
    for side in (-1, 1):
        span = abs(z - (rng.normal(-1.3 if side == 1 else -0.9, 0.45))) / rng.uniform(1.4, 1.9)
        if span >= 1 or rng.random() < 0.05:
            continue
        scale = float(np.sqrt(1 - span ** 2))
        centre = (ys + rng.uniform(-6, 14), xs + side * rng.uniform(55, 88))
        radii = np.array([rng.uniform(26, 36), rng.uniform(20, 29)]) * scale
        angle = side * rng.uniform(-50, -15)
        kidney = canvas.ellipse(centre, radii, angle) & cavity
        canvas.paint(kidney, S.KIDNEY_CORTEX, over=fat)
        canvas.paint(canvas.ellipse(centre, radii * 0.72, angle) & kidney, S.KIDNEY_MEDULLA)
        if span < 0.6:
            reach = rng.uniform(0.3, 0.65)
            hilum = (centre[0] - radii[0] * reach * 0.6, centre[1] - side * radii[1] * reach)
            canvas.paint(canvas.ellipse(hilum, radii * rng.uniform(0.35, 0.55), angle) & kidney, S.RENAL_SINUS)
            canvas.paint(canvas.ellipse(hilum, radii * rng.uniform(0.1, 0.25), angle) & kidney, S.RENAL_PELVIS)
        if rng.random() < 0.1:
            spot = (centre[0] + rng.normal(0, radii[0] / 3), centre[1] + rng.normal(0, radii[1] / 3))
            canvas.paint(canvas.ellipse(spot, radii * rng.uniform(0.2, 0.5)), S.LESION, over=[S.KIDNEY_CORTEX,
                                                                                               S.KIDNEY_MEDULLA])
    lateral_right = cx - (np.max(np.where(cavity, cx - x, -np.inf)) - 20)
    lateral_left = cx + (np.max(np.where(cavity, x - cx, -np.inf)) - 20)
    front = float(np.min(np.where(cavity, y, np.inf)))  # the anterior edge of the cavity
    if -2.3 < z < -0.6 and rng.random() < 0.8:  # pancreas in front of the aorta, tail to the left
        pancreas = (aorta[0] - aorta_r - rng.uniform(6, 18), xs + rng.uniform(0, 35))
        canvas.paint(canvas.ellipse(pancreas, (rng.uniform(7, 14), rng.uniform(30, 60)), rng.uniform(-30, 5))
                     & cavity, S.PANCREAS, over=fat)
    # liver: a tip at L3, most of the right upper quadrant at L1, its left lobe across the midline
    size = float(np.clip((0.6 - z) / 2.6, 0, 1))
    if rng.random() < np.clip(0.45 - 0.4 * z, 0.08, 0.98):
        radii = np.array([25 + 85 * size, 20 + 70 * size]) * rng.uniform(0.75, 1.15, 2)
        liver = (cy + rng.uniform(-25, 20) * (1 - size), lateral_right + radii[1] * rng.uniform(0.1, 0.6))
        region = canvas.ellipse(liver, radii, rng.uniform(-30, 30))
        if size > 0.6 and rng.random() < 0.8:
            region |= canvas.ellipse((front + rng.uniform(15, 40), cx + rng.uniform(-10, 40)),
                                     np.array([25, 55]) * size * rng.uniform(0.6, 1.2, 2), rng.uniform(-20, 20))
        canvas.paint(region & cavity, S.LIVER, over=fat)
        if -2.2 < z < -0.3 and rng.random() < 0.35:
            gallbladder = (liver[0] - radii[0] * rng.uniform(0.2, 0.6), liver[1] + radii[1] * rng.uniform(0.2, 0.6))
            canvas.paint(canvas.ellipse(gallbladder, rng.uniform(9, 22, 2), rng.uniform(0, 180)) & cavity,
                         S.GALLBLADDER, over=fat + [S.LIVER])
    size = float(np.clip((-0.3 - z) / 2, 0, 1))
    if rng.random() < np.clip(0.15 - 0.4 * z, 0.05, 0.95):  # spleen, posterolateral on the left
        spleen = (ys - rng.uniform(-10, 25), lateral_left - rng.uniform(0, 20))
        canvas.paint(canvas.ellipse(spleen, np.array([20 + 45 * size, 10 + 20 * size]) * rng.uniform(0.7, 1.2, 2),
                                    rng.uniform(-60, -20)) & cavity, S.SPLEEN, over=fat)
    if z < -0.8 and rng.random() < np.clip(0.3 - 0.35 * (z + 0.8), 0, 0.85):  # stomach, left anterior
        radius = rng.uniform(22, 55)
        _loop(canvas, rng, (front + radius * rng.uniform(0.8, 1.3), cx + rng.uniform(15, 75)),
              (radius, radius * rng.uniform(0.7, 1.3)), cavity,
              contents=rng.choice([S.BOWEL_FLUID, S.BOWEL_GAS, S.FECES, S.ORAL_CONTRAST]))
    if z < -1.8 and rng.random() < 0.6:  # lung bases in the posterior costophrenic recesses
        theta = np.arctan2(x - cx, -(y - cy))
        for side in (-1, 1):
            recess = cavity & (depth < inner + rng.uniform(8, 35)) & (side * theta > np.deg2rad(rng.uniform(95, 125))) \
                & (side * theta < np.deg2rad(rng.uniform(150, 170)))
            canvas.paint(recess, S.LUNG, over=fat + [S.LIVER, S.SPLEEN])
    # colon: ascending (right) and descending (left), lateral in the cavity
    for side, lateral in ((-1, lateral_right), (1, lateral_left)):
        if rng.random() < 0.85:
            radius = rng.uniform(10, 24)
            centre = (ys - rng.uniform(10, 45) if side == 1 else cy + rng.uniform(-25, 15),
                      lateral - side * radius * 0.4)
            _loop(canvas, rng, centre, (radius, radius * rng.uniform(0.8, 1.2)), cavity,
                  contents=rng.choice([S.FECES, S.BOWEL_GAS, S.FECES, S.BOWEL_FLUID]))
    # small bowel: loops packed more tightly in lean patients
    anterior_cavity = cavity & (y < ys - body_ry * 0.5)
    loops = int(np.clip(rng.normal(22 - 12 * vat_factor, 5), 3, 35))
    for _ in range(loops * 4):
        if loops == 0:
            break
        candidates = np.flatnonzero(anterior_cavity & (canvas.map == S.VAT))
        if candidates.size == 0:
            break
        pick = candidates[rng.integers(candidates.size)]
        centre = (float(y.flat[pick]), float(x.flat[pick]))
        radius = rng.uniform(6, 20)
        contents = rng.choice([S.BOWEL_FLUID, S.BOWEL_FLUID, S.BOWEL_GAS, S.ORAL_CONTRAST, S.BOWEL_WALL, S.FECES],
                              p=[0.3, 0.15, 0.2, 0.15, 0.15, 0.05])
        placed = _loop(canvas, rng, centre, (radius, radius * rng.uniform(0.6, 1.4)), anterior_cavity, contents)
        loops -= placed
    # mesenteric vessels in the remaining fat
    for _ in range(int(rng.integers(4, 25))):
        candidates = np.flatnonzero(anterior_cavity & (canvas.map == S.VAT))
        if candidates.size == 0:
            break
        pick = candidates[rng.integers(candidates.size)]
        canvas.paint(canvas.ellipse((y.flat[pick], x.flat[pick]), (rng.uniform(1, 3), rng.uniform(1, 3))),
                     S.MESENTERIC_VESSEL, over=fat)
    if rng.random() < 0.08:  # ascites in the flanks and in front of the bowel
        gutter = cavity & (depth < inner + rng.uniform(5, 25))
        canvas.paint(gutter, S.ASCITES, over=fat + [S.BOWEL_WALL])
    if rng.random() < 0.07:  # a soft-tissue mass in the mesentery
        candidates = np.flatnonzero(anterior_cavity)
        if candidates.size:
            pick = candidates[rng.integers(candidates.size)]
            canvas.paint(canvas.ellipse((y.flat[pick], x.flat[pick]), rng.uniform(10, 35, 2), rng.uniform(0, 180))
                         & cavity, S.LESION)


def _loop(canvas: _Canvas, rng: np.random.Generator, centre: tuple[float, float], radii: Sequence[float],
          region: np.ndarray, contents: S) -> int:
    """A bowel loop (wall and ``contents``) where it lies in fat inside ``region``; 1 if drawn."""
    outer = canvas.ellipse(centre, radii, rng.uniform(0, 180)) & region & (canvas.map == S.VAT)
    if outer.sum() < 10:
        return 0
    canvas.map[outer] = int(S.BOWEL_WALL)
    if contents != S.BOWEL_WALL:
        lumen = canvas.ellipse(centre, [max(r - 2.5, 1.0) for r in radii]) & outer
        canvas.map[lumen] = int(contents)
        if contents in (S.BOWEL_FLUID, S.ORAL_CONTRAST) and rng.random() < 0.3:  # air-fluid level
            canvas.map[lumen & (canvas.y < centre[0] - rng.uniform(0, radii[0] * 0.5))] = int(S.BOWEL_GAS)
    return 1


#: Published HU ranges per structure (low, high) for non-contrast CT; contrast phases change the
#: enhancing ones in :func:`_phase_values`. Fat -190 … -30 and muscle -29 … 150 (Mitsiopoulos 1998;
#: Aubrey 2014), organs and vessels from standard CT references.
_BASE_HU: dict[S, tuple[float, float]] = {
    S.AIR: (-1024, -990), S.SKIN: (10, 70), S.SAT: (-125, -80), S.FASCIA: (-40, 30), S.IMAT: (-110, -60),
    S.VAT: (-120, -75), S.RENAL_SINUS: (-110, -70), S.VERTEBRA: (110, 330), S.CORTEX_BONE: (350, 900),
    S.CANAL: (0, 35), S.KIDNEY_CORTEX: (25, 45), S.KIDNEY_MEDULLA: (20, 40), S.RENAL_PELVIS: (0, 20),
    S.LIVER: (45, 70), S.SPLEEN: (40, 55), S.BOWEL_WALL: (25, 55), S.BOWEL_FLUID: (-5, 30),
    S.BOWEL_GAS: (-1000, -850), S.ORAL_CONTRAST: (150, 500), S.FECES: (-300, 20), S.AORTA: (30, 50),
    S.CALCIUM: (400, 1200), S.IVC: (30, 50), S.MESENTERIC_VESSEL: (30, 50), S.ASCITES: (0, 20),
    S.LESION: (0, 60), S.RIB: (250, 800), S.ARM_FAT: (-120, -80), S.HUMERUS: (300, 1000), S.TABLE: (-200, 400),
    S.METAL: (2500, 3000), S.LINEA_ALBA: (20, 70), S.PANCREAS: (30, 50), S.GALLBLADDER: (-5, 25),
    S.LUNG: (-950, -750)}
_MUSCLES = (S.RECTUS, S.WALL, S.LATISSIMUS, S.PSOAS, S.QUADRATUS, S.PARASPINAL, S.ARM_MUSCLE)


def _phase_values(rng: np.random.Generator, phase: str, muscle_hu: float) -> dict[S, float]:
    """One HU value per structure for a contrast ``phase``."""
    values = {s: float(rng.uniform(*bounds)) for s, bounds in _BASE_HU.items()}
    for s in _MUSCLES:
        values[s] = muscle_hu + rng.normal(0, 4)
    enhanced = {
        "arterial": {S.AORTA: (200, 450), S.IVC: (60, 130), S.MESENTERIC_VESSEL: (150, 350),
                     S.KIDNEY_CORTEX: (150, 260),
                     S.KIDNEY_MEDULLA: (60, 110), S.LIVER: (60, 90), S.SPLEEN: (90, 160), S.BOWEL_WALL: (60, 120),
                     S.PANCREAS: (90, 150)},
        "portal_venous": {S.AORTA: (130, 220), S.IVC: (110, 190), S.MESENTERIC_VESSEL: (120, 220),
                          S.KIDNEY_CORTEX: (130, 220), S.KIDNEY_MEDULLA: (120, 210), S.LIVER: (90, 140),
                          S.SPLEEN: (100, 140), S.BOWEL_WALL: (60, 110), S.PANCREAS: (80, 120)},
        "delayed": {S.AORTA: (90, 140), S.IVC: (90, 140), S.MESENTERIC_VESSEL: (80, 130), S.KIDNEY_CORTEX: (90, 150),
                    S.KIDNEY_MEDULLA: (100, 180), S.RENAL_PELVIS: (300, 1200), S.LIVER: (70, 110),
                    S.SPLEEN: (80, 120), S.BOWEL_WALL: (50, 90), S.PANCREAS: (60, 90)},
    }.get(phase, {})
    for s, bounds in enhanced.items():
        values[s] = float(rng.uniform(*bounds))
    if phase != "non_contrast":  # enhancing muscle, a little
        for s in _MUSCLES:
            values[s] += rng.uniform(0, 12)
    return values


def render(rng: np.random.Generator, tissue: np.ndarray, spacing_mm: float, patient: Patient
           ) -> tuple[np.ndarray, str]:
    """HU image (int16, clipped to -1024 … 3071) of a structure map, and the contrast phase drawn."""
    from scipy.ndimage import gaussian_filter, zoom

    phase = str(rng.choice(PHASES, p=[0.3, 0.15, 0.45, 0.1]))
    muscle_hu = float(np.clip(rng.normal(52 - 0.35 * max(0, patient.age - 30) - 12 * patient.habitus, 9), -5, 75))
    values = _phase_values(rng, phase, muscle_hu)
    # randomise beyond the published ranges: everything shifted, spread widened
    lookup = np.zeros(max(int(s) for s in S) + 1)
    for s, value in values.items():
        lookup[int(s)] = value + rng.normal(0, 8)
    hu = lookup[tissue]
    shape = tissue.shape
    for s in (S.VAT, S.SAT, S.LIVER, S.VERTEBRA, S.FECES, *_MUSCLES):  # low-frequency texture per structure
        texture = gaussian_filter(rng.normal(size=shape), rng.uniform(1, 4))
        hu += (tissue == s) * texture / (texture.std() + 1e-9) * (60 if s == S.FECES else rng.uniform(2, 10))
    kvp_shift = rng.normal(0, 1)  # 80 … 140 kVp: fat darker and iodine / bone brighter at low kVp
    hu = np.where(hu < -20, hu * (1 + 0.05 * kvp_shift), np.where(hu > 100, hu * (1 + 0.15 * kvp_shift), hu))
    low = zoom(rng.normal(size=(4, 4)), (shape[0] / 4, shape[1] / 4), order=3)[: shape[0], : shape[1]]
    hu += low * rng.uniform(0, 12)  # bias
    body = tissue != S.AIR
    if rng.random() < 0.3:  # beam hardening: cupping toward the centre of the body
        distance = gaussian_filter(body.astype(float), 15)
        hu -= distance * rng.uniform(5, 25) * body
    if (tissue == S.METAL).any() or rng.random() < 0.04:  # metal streaks
        centre = np.argwhere(tissue == S.METAL).mean(axis=0) if (tissue == S.METAL).any() else \
            np.array(shape) / 2 + rng.normal(0, 20, 2)
        rows, columns = np.indices(shape)
        angle = np.arctan2(rows - centre[0], columns - centre[1])
        streaks = sum(np.cos(k * angle + rng.uniform(0, np.pi)) for k in rng.integers(3, 40, 6))
        falloff = np.maximum(1, np.hypot(rows - centre[0], columns - centre[1]) / 20)
        hu += streaks * rng.uniform(40, 150) * body / falloff
    hu = gaussian_filter(hu, rng.uniform(0.0, 1.2))  # reconstruction kernel
    noise = gaussian_filter(rng.normal(size=shape), rng.uniform(0.3, 1.0))
    hu += noise / (noise.std() + 1e-9) * rng.uniform(4, 35) * (body | (rng.random() < 0.5))
    hu = np.where(tissue == S.AIR, np.minimum(hu, -900), hu)
    if rng.random() < 0.15:  # truncated field of view: outside the reconstruction circle
        rows, columns = np.indices(shape)
        radius = min(shape) / 2 * rng.uniform(0.8, 1.0)
        outside = np.hypot(rows - (shape[0] - 1) / 2, columns - (shape[1] - 1) / 2) > radius
        hu[outside] = rng.choice([-1024, -2000, -3024])
    return np.clip(np.round(hu), -1024, 3071).astype(np.int16), phase


def target(tissue: np.ndarray) -> np.ndarray:
    """Recipe label values (1 muscle, 2 SAT, 3 VAT, 0 else) of a structure map."""
    lookup = np.zeros(max(int(s) for s in S) + 1, dtype=np.uint8)
    for s, value in TARGET.items():
        lookup[int(s)] = value
    return lookup[tissue]


def synthetic_slice(seed: int, size: int = 256) -> tuple[Image, LabelMap, dict[str, object]]:
    """One procedural L3 slice in HU, its labels (muscle 1, SAT 2, VAT 3) and what was drawn."""
    rng = np.random.default_rng(seed)
    patient = draw_patient(rng)
    tissue, spacing = anatomy(rng, patient, size)
    hu, phase = render(rng, tissue, spacing, patient)
    image = Image(array=hu, spacing_mm=(spacing, spacing), origin_mm=(0.0, 0.0, 0.0),
                  metadata={"modality": "CT"})
    labels = LabelMap.like(image, target(tissue), {1: "skeletal_muscle", 2: "subcutaneous_fat", 3: "visceral_fat"})
    return image, labels, {"seed": seed, "phase": phase, **patient.__dict__}


class SyntheticL3Dataset(torch.utils.data.Dataset):
    """Procedural L3 slices made on access, deterministic per seed, as network samples
    (``image`` [1, H, W] in HU on the network grid, ``label`` one-hot [3, H, W]) for the
    training loop of :mod:`radiomark.training.trainer`; a MONAI ``Dataset`` wraps it with the
    recipe's augmentation. No files are written."""

    def __init__(self, recipe: object, seeds: Sequence[int]) -> None:
        self.recipe = recipe
        self.seeds = list(seeds)

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from radiomark.transforms.network_input import network_slice, network_slice_target

        image, labels, _ = synthetic_slice(self.seeds[index])
        spec = self.recipe.preprocessing  # type: ignore[attr-defined]
        return {"image": torch.from_numpy(network_slice(image, spec, keep_hu=True)[0]),
                "label": torch.from_numpy(network_slice_target(labels, spec, [1, 2, 3]))}
