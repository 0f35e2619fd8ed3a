"""The vertebral-level QC picture: sagittal and coronal views of a CT volume through the spine,
with every vertebra found named at its centre, the discs, and the slice chosen for measurement."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from radiomark.image import Image
from radiomark.outputs.figures import pyplot, save_png
from radiomark.transforms.vertebral_levels import LevelResult, canonical_volume


def write_level_figure(volume: Image, result: LevelResult, path: str | os.PathLike[str]) -> Path:
    """``path`` (PNG): bone window, sagittal plane through the body centres (anterior left) and
    coronal plane through them (patient's right on the left), superior up; the chosen slice in red,
    the confidence and warnings in the title."""
    hu, (sz, sy, sx), _ = canonical_volume(volume)
    y, x = result.spine_yx
    column, row = int(round(float(np.median(x)))), int(round(float(np.median(y))))
    figure, (sagittal, coronal) = pyplot().subplots(1, 2, figsize=(10, 7))
    window = {"cmap": "gray", "vmin": -250, "vmax": 1000, "origin": "lower"}
    sagittal.imshow(hu[:, :, column], aspect=sz / sy, **window)
    sagittal.plot(y, np.arange(len(y)), color="deepskyblue", lw=0.8, label="vertebral body centres")
    coronal.imshow(hu[:, row, :], aspect=sz / sx, **window)
    for vertebra in result.vertebrae:
        for axes, at in ((sagittal, float(np.interp(vertebra.centre, np.arange(len(y)), y))),
                         (coronal, float(np.interp(vertebra.centre, np.arange(len(x)), x)))):
            axes.plot(at, vertebra.centre, "o", color="yellow", ms=3)
            axes.annotate(vertebra.name, (at, vertebra.centre), xytext=(8, 0), textcoords="offset points",
                          color="yellow", fontsize=9, va="center")
            for disc in (vertebra.lower_disc, vertebra.upper_disc):
                if disc is not None:
                    axes.axhline(disc, color="yellow", lw=0.4, ls=":")
    if result.slice_index is not None:
        chosen = result.canonical_z(result.slice_index)
        for axes in (sagittal, coronal):
            axes.axhline(chosen, color="red", lw=1.2)
    sagittal.set(title="sagittal (anterior left)", xticks=[], yticks=[])
    coronal.set(title="coronal (patient's right left)", xticks=[], yticks=[])
    chosen_text = (f"{result.level} at slice {result.slice_index}" if result.slice_index is not None
                   else f"{result.level} not found")
    notes = "\n".join(result.warnings)
    figure.suptitle(f"{chosen_text}; counted from the {result.anchor}, confidence {result.confidence}"
                    + (f"\n{notes}" if notes else ""), fontsize=9)
    return save_png(figure, path)
