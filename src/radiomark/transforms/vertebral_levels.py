"""Vertebral levels in an axial CT volume: which slice passes through L3 (or another level).

The spine is found and its vertebrae are counted twice, independently, from bone (HU) alone:

* **from the sacrum** — the intervertebral discs are the dips of the mean HU along the vertebral
  bodies; the sacrum is recognised where the bone attached to the spine spans the pelvis
  (sacral alae joined to the ilium at the sacroiliac joints), and the disc just above it is L5/S1;
* **from the ribs** — rib-bearing bone lateral to the spine (3D components, the ribs) whose
  medial end is lowest marks T12 (the vertebra of the last rib), and L1 … L5 lie below it.

Both counts agree for typical anatomy. When they disagree (six lumbar vertebrae, eleven or
thirteen rib pairs, a sacralised L5) or only one is possible in the field of view, the result says
so in its ``warnings`` and its ``confidence`` drops; the sacrum count is used when present (it is
the usual anchor of L3 body-composition readers), else the rib count. No level is given when
neither anchor is in the volume, except in a slab shorter than :data:`SLAB_MM` (a series exported
around the level), whose middle slice is taken with confidence "none" and a warning.

Conventions: the volume is brought to LPS-canonical axes ``[z inferior → superior, y anterior →
posterior, x right → left]``; positions are slice indices of the input volume (its own slice
order) and millimetres along the patient axis. HU thresholds: bone > 200 HU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from radiomark.errors import InputError
from radiomark.image import Image

LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5")
BONE_HU = 200.0
#: A volume shorter than this (mm) is taken as a slab exported around the level wanted.
SLAB_MM = 80.0


@dataclass(frozen=True)
class Vertebra:
    """One vertebral body found: its name (counted from the anchor used), the canonical z index of
    its centre and of its lower / upper discs (None where it leaves the volume)."""

    name: str
    centre: float
    lower_disc: float | None
    upper_disc: float | None


@dataclass(frozen=True)
class LevelResult:
    """The chosen slice for ``level`` and the evidence: vertebrae with names, the anchor(s) found,
    disagreement between the two counts, a confidence (high / medium / low) and warnings."""

    level: str
    slice_index: int | None  # index into the input volume's slices
    vertebrae: tuple[Vertebra, ...]
    anchor: str  # "sacrum", "ribs", "middle of a slab", or "none"
    confidence: str
    warnings: tuple[str, ...] = ()
    sacrum_disc: float | None = None  # canonical z of the L5/S1 disc
    last_rib: float | None = None  # canonical z of the lowest rib head
    spine_yx: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.empty(0), np.empty(0)), repr=False)
    profile: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    flipped_z: bool = False

    def record(self) -> dict[str, object]:
        """JSON-ready summary (slice indices of the input volume)."""
        def index(z: float | None) -> int | None:
            return None if z is None else self.to_input_index(z)
        return {"level": self.level, "slice_index": self.slice_index, "anchor": self.anchor,
                "confidence": self.confidence, "warnings": list(self.warnings),
                "vertebrae": [{"name": v.name, "centre_slice": index(v.centre)} for v in self.vertebrae],
                "l5_s1_disc_slice": index(self.sacrum_disc), "last_rib_head_slice": index(self.last_rib)}

    def to_input_index(self, z: float) -> int:
        """A canonical z position as a slice index of the input volume."""
        size = self.profile.size
        k = int(round(z))
        return size - 1 - k if self.flipped_z else k

    def canonical_z(self, index: int) -> int:
        """A slice index of the input volume as a canonical z index (z up): the inverse of
        :meth:`to_input_index`."""
        return self.profile.size - 1 - index if self.flipped_z else index


def canonical_volume(volume: Image) -> tuple[np.ndarray, tuple[float, float, float], bool]:
    """The HU array as [z up, y posterior, x left], its spacing (mm) and whether z was flipped."""
    if volume.ndim != 3 or volume.spacing_mm is None:
        raise InputError(volume.metadata.get("path"), "finding a vertebral level needs a CT volume with spacing")
    direction = volume.direction
    if int(np.argmax(np.abs(direction[:, 0]))) != 2:
        raise InputError(volume.metadata.get("path"), "finding a vertebral level needs axial slices")
    array = np.asarray(volume.array, dtype=np.float32)
    flip_z = bool(direction[2, 0] < 0)
    if flip_z:
        array = array[::-1]
    if direction[1, 1] < 0:
        array = array[:, ::-1]
    if direction[0, 2] < 0:
        array = array[:, :, ::-1]
    sz, sy, sx = volume.spacing_mm
    return np.ascontiguousarray(array), (sz, sy, sx), flip_z


def _spine_track(hu: np.ndarray, spacing: tuple[float, float, float]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per slice, the (y, x) index of the vertebral body centre, smoothed along z, and whether a
    body was found within 10 mm of the slice (False where the track is only interpolated): in each slice the
    most anterior bone component (> 110 HU after 2 mm smoothing, holes filled, at least 150 mm²) near the midline column
    where bone is found most often; slices without one (discs) are interpolated."""
    from scipy.ndimage import (
        binary_fill_holes,
        center_of_mass,
        gaussian_filter,
        gaussian_filter1d,
        label,
        maximum_filter1d,
        median_filter,
    )

    sz, sy, sx = spacing
    bone = gaussian_filter(hu, (0, 2 / sy, 2 / sx)) > 110  # cancellous bone of the elderly is ~100-150 HU
    body = hu > -300
    columns = np.arange(hu.shape[2])
    x_centre = np.nonzero(body.any(axis=(0, 1)))[0].mean()
    frequency = gaussian_filter(bone.mean(axis=0), (6 / sy, 6 / sx))
    frequency[:, np.abs(columns - x_centre) * sx > 50] = 0
    y0, x0 = np.unravel_index(int(np.argmax(frequency)), frequency.shape)
    rows = np.arange(hu.shape[1])[:, None]
    window = (np.abs(rows - y0) * sy < 60) & (np.abs(columns[None] - x0) * sx < 35)
    centres = np.full((hu.shape[0], 2), np.nan)
    for z in range(hu.shape[0]):
        components, count = label(binary_fill_holes(bone[z] & window))
        best = None
        for index in range(1, count + 1):
            part = components == index
            cy, cx = center_of_mass(part)
            if np.count_nonzero(part) * sy * sx >= 150 and abs(cx - x0) * sx < 20 and (best is None or cy < best[0]):
                best = (cy, cx, np.nonzero(part.any(axis=1))[0].min())
        if best is not None:  # the body's centre: 15 mm behind its anterior edge
            centres[z] = (best[2] + 15 / sy, best[1])
    known = np.isfinite(centres[:, 0])
    if known.sum() < 3:
        raise InputError(None, "no spine found (no bone column near the midline)")
    size = max(3, int(round(45 / sz)) | 1)
    track = []
    for axis in (0, 1):
        values = np.interp(np.arange(hu.shape[0]), np.nonzero(known)[0], centres[known, axis])
        track.append(gaussian_filter1d(median_filter(values, size, mode="nearest"), max(0.5, 6 / sz)))
    close = known & (np.abs(track[0] - np.where(known, centres[:, 0], track[0])) * sy < 12)  # where the track runs
    return track[0], track[1], maximum_filter1d(close, 2 * max(1, int(10 / sz)) + 1, mode="nearest")


def _profile(hu: np.ndarray, spacing: tuple[float, float, float], y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Median HU in a disc of radius 12 mm at the body centre, per slice: cancellous bone ~100-250,
    discs ~60-90, and the endplates either side of a disc bright (sclerotic cortex)."""
    sz, sy, sx = spacing
    rows, columns = np.indices(hu.shape[1:])
    values = np.empty(hu.shape[0])
    for z in range(hu.shape[0]):
        disc = ((rows - y[z]) * sy) ** 2 + ((columns - x[z]) * sx) ** 2 <= 144
        values[z] = np.median(hu[z][disc])
    return values


def _discs(profile: np.ndarray, sz: float, valid: np.ndarray) -> np.ndarray:
    """Canonical z of the discs: dips of the body profile with prominence ≥ 45 HU, at least 20 mm
    apart, at least 25 HU below the median of the surrounding 45 mm (a disc, not the noise of
    cancellous bone between two bright endplates), where the body track is ``valid``."""
    from scipy.ndimage import gaussian_filter1d, median_filter
    from scipy.signal import find_peaks

    smooth = gaussian_filter1d(profile, 1.5 / sz) if sz < 2 else profile
    dips, _ = find_peaks(-smooth, prominence=45, distance=max(1, int(20 / sz)))
    level = median_filter(profile, max(3, int(45 / sz) | 1), mode="nearest")
    keep = [d for d in dips if valid[d] and smooth[d] < level[d] - 25]
    return np.asarray(keep, dtype=float)


def _bone_extent(hu: np.ndarray, spacing: tuple[float, float, float], y: np.ndarray) -> np.ndarray:
    """Per slice, the left-right extent (mm) of bone (> 200 HU) in front of 80 mm behind the body
    centre (the table excluded): wide in the pelvis and the rib cage, narrow in the lumbar gap."""
    sz, sy, sx = spacing
    rows = np.arange(hu.shape[1])[:, None]
    extent = np.zeros(hu.shape[0])
    for z in range(hu.shape[0]):
        columns = np.nonzero(((hu[z] > BONE_HU) & ((rows - y[z]) * sy < 80)).any(axis=0))[0]
        if columns.size:
            extent[z] = (columns.max() - columns.min() + 1) * sx
    return extent


def _width_of_attached_bone(hu: np.ndarray, spacing: tuple[float, float, float], y: np.ndarray,
                            x: np.ndarray) -> np.ndarray:
    """Per slice, the left-right extent (mm) of the bone connected to the vertebral body, gaps of
    up to about 4 mm (sacroiliac joints) bridged."""
    from scipy.ndimage import binary_closing, label

    sz, sy, sx = spacing
    widths = np.zeros(hu.shape[0])
    structure = np.ones((max(3, int(4 / sy) | 1), max(3, int(4 / sx) | 1)), dtype=bool)
    for z in range(hu.shape[0]):
        bone = binary_closing(hu[z] > BONE_HU, structure)
        components, _ = label(bone)
        seed = components[int(round(min(max(y[z], 0), hu.shape[1] - 1))), int(round(x[z]))]
        if seed:
            columns = np.nonzero((components == seed).any(axis=0))[0]
            widths[z] = (columns.max() - columns.min() + 1) * sx
    return widths


def _last_rib_head(hu: np.ndarray, spacing: tuple[float, float, float], y: np.ndarray, x: np.ndarray,
                   below: float) -> float | None:
    """Canonical z of the lowest rib head: 3D bone components lateral to the spine (the spine and
    the bone of the pelvis, below ``below``, removed) that are elongated like ribs and whose medial
    end lies within 55 mm of the body centre."""
    from scipy.ndimage import find_objects, label

    sz, sy, sx = spacing
    bone = hu > BONE_HU
    rows, columns = np.indices(hu.shape[1:])
    heads = []
    for z in range(hu.shape[0]):
        near_spine = (np.abs(columns - x[z]) * sx < 24) & ((rows - y[z]) * sy > -30) & ((rows - y[z]) * sy < 75)
        bone[z][near_spine] = False
    bone[: int(max(0, below))] = False
    components, count = label(bone)
    if count == 0:
        return None
    for index, box in enumerate(find_objects(components), start=1):
        if box is None:
            continue
        part = components[box] == index
        zs, ys, xs = np.nonzero(part)
        extent = max((np.ptp(zs) + 1) * sz, (np.ptp(ys) + 1) * sy, (np.ptp(xs) + 1) * sx)
        if extent < 40 or part.sum() * sz * sy * sx > 150_000:  # not elongated, or pelvis-sized
            continue
        zs, ys, xs = zs + box[0].start, ys + box[1].start, xs + box[2].start
        distance = np.hypot((xs - x[zs]) * sx, (ys - y[zs]) * sy)
        medial = int(np.argmin(distance))
        if distance[medial] < 55 and abs(xs[medial] - x[zs[medial]]) * sx > 12:
            heads.append(float(zs[medial]))
    return min(heads) if heads else None


def _name_vertebrae(discs: np.ndarray, profile_size: int, anchor_disc_index: int, anchor_name: str, sz: float
                    ) -> list[Vertebra]:
    """Vertebrae between consecutive discs, named by counting from the vertebra just above (for a
    sacrum anchor, L5) or containing (for a rib anchor, T12) disc ``anchor_disc_index``. Counting
    stops, going away from the anchor, at a gap taller than 55 mm (a missed disc); a vertebra cut
    by the edge of the volume gets its centre 15 mm from its one disc."""
    order = list(LEVELS)
    edges = [None, *discs.tolist(), None]
    anchor_segment = anchor_disc_index + 1 if anchor_name == "L5" else anchor_disc_index
    named: dict[int, Vertebra] = {}
    for direction in (1, -1):
        k = anchor_segment
        while 0 <= k < len(edges) - 1:
            low, high = edges[k], edges[k + 1]
            position = order.index(anchor_name) - (k - anchor_segment)
            if not 0 <= position < len(order):
                break
            if low is not None and high is not None:
                if (high - low) * sz > 55:
                    break
                centre = (low + high) / 2
            else:
                centre = (high - 15 / sz) if low is None else (low + 15 / sz)
                if not 0 <= centre <= profile_size - 1:
                    break
            named[k] = Vertebra(order[position], centre, low, high)
            k += direction
    return [named[k] for k in sorted(named)]


def _pelvis_top(extent: np.ndarray, sz: float) -> float | None:
    """Canonical z of the iliac crests: the top of the run of wide bone (> 150 mm) that starts in
    the lower half of the volume, when a narrow lumbar gap (≥ 15 mm) lies above it."""
    wide = extent > 150
    if not wide[: max(1, len(wide) // 2)].any():
        return None
    top = int(np.nonzero(wide)[0][0])
    while top + 1 < len(wide) and wide[top + 1]:
        top += 1
    gap = int(round(15 / sz))
    if top + gap >= len(wide) or wide[top + 1: top + 1 + gap].any():
        return None
    return float(top)


def find_level(volume: Image, level: str = "L3") -> LevelResult:
    """The slice of ``volume`` (axial CT, HU) through the centre of vertebral body ``level``; see
    the module docstring for the method and what the confidence means."""
    if level not in LEVELS:
        raise InputError(None, f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    hu, spacing, flipped = canonical_volume(volume)
    sz = spacing[0]
    y, x, valid = _spine_track(hu, spacing)
    profile = _profile(hu, spacing, y, x)
    discs = _discs(profile, sz, valid)
    crest = _pelvis_top(_bone_extent(hu, spacing, y), sz)
    warnings: list[str] = []
    sacrum_disc = None
    if crest is not None:  # S1: bone attached to the body spanning the pelvis (alae joined to the ilium)
        attached = np.nonzero((_width_of_attached_bone(hu, spacing, y, x) > 150) & valid)[0]
        attached = attached[attached <= crest]
        if attached.size:
            top = float(attached.max())
            candidates = discs[(discs >= top - 25 / sz) & (discs <= top + 20 / sz)]
            if candidates.size:
                sacrum_disc = float(candidates.max())
    last_rib = _last_rib_head(hu, spacing, y, x, below=0 if crest is None else crest + 10 / sz)
    by_sacrum = by_ribs = None
    if sacrum_disc is not None:
        by_sacrum = _name_vertebrae(discs, len(profile), int(np.nonzero(discs == sacrum_disc)[0][0]), "L5", sz)
    if last_rib is not None:
        below_head = np.nonzero(discs < last_rib)[0]
        if below_head.size:
            by_ribs = _name_vertebrae(discs, len(profile), int(below_head.max()) + 1, "T12", sz)
    confidence = "high"
    if by_sacrum is not None and by_ribs is not None:
        sacrum_names = {v.name: v.centre for v in by_sacrum}
        rib_names = {v.name: v.centre for v in by_ribs}
        shared = set(sacrum_names) & set(rib_names)
        vertebrae, anchor = by_sacrum, "sacrum"
        if not shared or any(abs(sacrum_names[n] - rib_names[n]) > 1e-6 for n in shared):
            confidence = "low"
            warnings.append("vertebra count uncertain: counting up from the sacrum and down from the last rib "
                            "disagree (transitional anatomy: 6 lumbar vertebrae, 11 or 13 ribs, or a sacralised L5?); "
                            "the sacrum count is used — check the level picture")
    elif by_sacrum is not None:
        vertebrae, anchor, confidence = by_sacrum, "sacrum", "medium"
        warnings.append("counted from the sacrum only (no rib found to confirm it)")
    elif by_ribs is not None:
        vertebrae, anchor, confidence = by_ribs, "ribs", "medium"
        warnings.append("counted down from the last rib only (L5/S1 not found); 11 or 13 rib pairs would shift "
                        "the count")
    else:
        vertebrae, anchor, confidence = [], "none", "none"
        warnings.append("neither the sacrum nor a rib was found: the vertebrae cannot be counted")
    names = {v.name: v for v in vertebrae}
    if crest is not None and "L4" in names and vertebrae:  # the iliac crests lie at L4 or the L4/L5 or L5 level
        l4 = names["L4"]
        lowest = names["L5"].lower_disc if "L5" in names and names["L5"].lower_disc is not None else l4.centre - 30 / sz
        highest = l4.upper_disc if l4.upper_disc is not None else l4.centre + 15 / sz
        if not lowest <= crest <= highest:
            confidence = "low"
            warnings.append("the iliac crests are not at the L4-L5 level this count gives: the count may be off by one")
    if sz > 5 and vertebrae:
        warnings.append(f"slices {sz:g} mm thick: discs may be missed; level less certain")
        confidence = "low"
    chosen = names.get(level)
    if chosen is None and vertebrae:
        counted = ", ".join(v.name for v in vertebrae)
        warnings.append(f"{level} was not found (outside the field of view, or a disc was missed; counted: {counted})")
    elif chosen is not None and (chosen.lower_disc is None or chosen.upper_disc is None):
        warnings.append(f"{level} is cut by the edge of the volume: its centre is estimated")
    result = LevelResult(level, None, tuple(vertebrae), anchor, confidence, tuple(warnings), sacrum_disc, last_rib,
                         (y, x), profile, flipped)
    if chosen is not None:
        return replace(result, slice_index=result.to_input_index(chosen.centre))
    if not vertebrae and len(profile) * sz < SLAB_MM:  # a slab exported around the level: its middle, said loudly
        return replace(result, slice_index=len(profile) // 2, anchor="middle of a slab", confidence="none",
                       warnings=(f"the volume is a slab of {len(profile) * sz:g} mm, too short to count vertebrae: its "
                                 f"middle slice was measured, assumed to be at {level} — check it, or give --slice",))
    return result
