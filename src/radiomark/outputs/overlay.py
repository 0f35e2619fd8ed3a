"""Overlay pictures: structures coloured on the grey image, with a title and a legend.

A volume is shown as up to :data:`MAX_PANELS` of its slices, those with the most labelled
voxels (the middle slice when nothing is labelled), side by side in slice order. Axial slices are
turned to the radiological view (patient's right on the left of the picture, anterior at the
top), as the 2D recipes' network grid is. Pixels keep the image's physical aspect ratio.

Drawn with NumPy and Pillow, not a matplotlib figure: the overlay of one slice took 1.2 s of a
2.4 s run (0.6 s of it importing pyplot), and 0.05 s this way.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image as Picture
from PIL import ImageDraw, ImageFont

from radiomark.image import Image, LabelMap
from radiomark.io.atomic import atomic_file
from radiomark.transforms.spatial import canonical_flips, flip

MAX_PANELS = 4
COLOURS = ("#e6194b", "#ffe119", "#42d4f4", "#3cb44b", "#f58231", "#911eb4", "#f032e6", "#bfef45")
#: Opacity of the structure colours over the grey image.
ALPHA = 0.45
#: Width in pixels of the picture of a 2D image, and of each panel of a volume.
_SINGLE_WIDTH, _PANEL_WIDTH = 770, 350
_MARGIN, _TITLE_SIZE, _TEXT_SIZE = 8, 15, 12


def _panels(grey: np.ndarray, image: Image, labels: LabelMap) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(grey, labels, caption) per picture: the 2D image, or the chosen slices of a volume."""
    if image.ndim == 2:
        flips = canonical_flips(image)
        return [(flip(grey, flips), flip(np.asarray(labels.array), flips), "")]
    counts = np.count_nonzero(np.asarray(labels.array).reshape(image.shape[0], -1), axis=1)
    chosen = sorted(np.argsort(-counts, kind="stable")[:MAX_PANELS]) if counts.any() else [image.shape[0] // 2]
    panels = []
    for k in chosen:
        flips = canonical_flips(image.take_slice(int(k)))
        panels.append((flip(grey[k], flips), flip(np.asarray(labels.array[k]), flips), f"slice {k}"))
    return panels


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def label_colour(value: int) -> tuple[int, int, int]:
    """The (red, green, blue) 0–255 colour of label ``value`` in overlays, the DICOM SEG and the viewer."""
    return _rgb(COLOURS[(value - 1) % len(COLOURS)])


def _draw_panel(grey: np.ndarray, label_array: np.ndarray, size: tuple[int, int]) -> Picture.Image:
    """One panel at ``size`` (width, height): grey scaled by area (bilinear when enlarged), labels
    by nearest neighbour, blended with :data:`ALPHA`."""
    shown = Picture.fromarray(np.clip(np.asarray(grey, dtype=np.float32), 0.0, 1.0) * 255.0, mode="F")
    enlarged = size[0] > grey.shape[1]
    shown = shown.resize(size, Picture.Resampling.BILINEAR if enlarged else Picture.Resampling.BOX)
    values = np.asarray(shown, dtype=np.float32)
    placed = np.asarray(Picture.fromarray(np.asarray(label_array, dtype=np.int32), mode="I").resize(
        size, Picture.Resampling.NEAREST))
    rgb = np.repeat(values[..., None], 3, axis=2)
    lookup = np.zeros((max(int(placed.max()), 0) + 1, 3), dtype=np.float32)
    for value in range(1, len(lookup)):
        lookup[value] = label_colour(value)
    inside = placed > 0
    rgb[inside] = (1 - ALPHA) * rgb[inside] + ALPHA * lookup[placed[inside]]
    return Picture.fromarray(np.round(rgb).astype(np.uint8), mode="RGB")


def _fitted(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def save_overlay(grey: np.ndarray, image: Image, labels: LabelMap, path: str | os.PathLike[str],
                 title: str = "") -> Path:
    """Write a PNG of ``grey`` (``image``'s values mapped to [0, 1], same shape) with ``labels``
    coloured (written under a temporary name, then renamed)."""
    panels = _panels(grey, image, labels)
    spacing = image.spacing_mm[-2:] if image.spacing_mm is not None else None
    aspect = 1.0 if spacing is None else spacing[0] / spacing[1]  # row height / column width
    rows, columns = panels[0][0].shape
    width = _SINGLE_WIDTH if len(panels) == 1 else _PANEL_WIDTH
    height = max(1, int(round(width * rows * aspect / columns)))
    title_font, text_font = ImageFont.load_default(_TITLE_SIZE), ImageFont.load_default(_TEXT_SIZE)
    values = sorted(labels.labels)
    names = [labels.labels[v].replace("_", " ") for v in values]
    total_width = len(panels) * width + (len(panels) + 1) * _MARGIN
    entries, line, lines = [], 0, 0  # legend entries laid out left to right, wrapped
    for value, name in zip(values, names, strict=True):
        entry = _TEXT_SIZE + 6 + int(text_font.getlength(name)) + 16
        if line and line + entry > total_width - 2 * _MARGIN:
            line, lines = 0, lines + 1
        entries.append((value, name, _MARGIN + line, lines))
        line += entry
    caption_height = _TEXT_SIZE + 6 if any(caption for _, _, caption in panels) else 0
    top = _MARGIN + _TITLE_SIZE + 8 + caption_height
    legend_top = top + height + _MARGIN
    canvas = Picture.new("RGB", (total_width, legend_top + (lines + 1) * (_TEXT_SIZE + 8) + _MARGIN), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((total_width / 2, _MARGIN), _fitted(title, title_font, total_width - 2 * _MARGIN), fill="black",
              font=title_font, anchor="ma")
    for index, (panel_grey, panel_labels, caption) in enumerate(panels):
        left = _MARGIN + index * (width + _MARGIN)
        canvas.paste(_draw_panel(panel_grey, panel_labels, (width, height)), (left, top))
        if caption:
            draw.text((left + width / 2, top - caption_height), caption, fill="black", font=text_font, anchor="ma")
    for value, name, left, line_index in entries:
        y = legend_top + line_index * (_TEXT_SIZE + 8)
        draw.rectangle((left, y, left + _TEXT_SIZE, y + _TEXT_SIZE), fill=label_colour(value))
        draw.text((left + _TEXT_SIZE + 6, y), name, fill="black", font=text_font)
    with atomic_file(path) as temporary:
        canvas.save(temporary, format="PNG", compress_level=1)  # 3× faster than the default level, ~18 % larger
    return Path(path)
