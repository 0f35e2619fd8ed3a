"""A one-page PDF of a case report (matplotlib): header, overlay, measurements, QC, decision."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from radiomark import __version__
from radiomark.io.atomic import atomic_file
from radiomark.outputs.figures import pyplot

if TYPE_CHECKING:
    from radiomark.case import CaseResult
    from radiomark.recipes.schema import Recipe

_A4_INCHES = (8.27, 11.69)


def _table(axis: object, rows: list[list[str]], header: list[str], widths: list[float]) -> None:
    axis.axis("off")  # type: ignore[attr-defined]
    if not rows:
        return
    table = axis.table(cellText=rows, colLabels=header, colWidths=widths, loc="upper left",  # type: ignore[attr-defined]
                       cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.scale(1, 1.25)


def write_case_pdf(recipe: Recipe, result: CaseResult, model: str, overlay: Path, path: Path) -> Path:
    """Write ``report.pdf`` for ``result`` with the ``overlay`` PNG (A4 portrait, one page)."""
    plt = pyplot()
    figure = plt.figure(figsize=_A4_INCHES)
    grid = figure.add_gridspec(5, 1, height_ratios=[0.7, 4.2, 2.0, 0.9, 1.4], left=0.06, right=0.94,
                               top=0.96, bottom=0.04, hspace=0.25)
    header = figure.add_subplot(grid[0])
    header.axis("off")
    kept = ", ".join(f"{name.replace('_', ' ')}: {value or '—'}" for name, value in result.identifiers.items())
    clinical = result.clinical
    lines = [f"Case {result.case_id} · source {result.source}", kept,
             f"sex {clinical.sex or '—'} · height {clinical.height_m or '—'} m · weight {clinical.weight_kg or '—'} kg"]
    header.text(0, 1, recipe.title, fontsize=14, weight="bold", va="top")
    header.text(0, 0.55, "\n".join(textwrap.shorten(line, 130) for line in lines if line), fontsize=8, va="top")
    picture = figure.add_subplot(grid[1])
    picture.imshow(plt.imread(overlay))
    picture.axis("off")
    _table(figure.add_subplot(grid[2]),
           [[m.name.replace("_", " "), f"{m.value:.2f}", str(m.unit), textwrap.shorten(m.method, 60)]
            for m in result.measurements.values()], ["measurement", "value", "unit (UCUM)", "method"],
           [0.3, 0.12, 0.13, 0.45])
    flags = figure.add_subplot(grid[3])
    flags.axis("off")
    flags.text(0, 1, "Quality control: " + ("; ".join(result.flags) if result.flags else "no check fired"),
               fontsize=8, va="top", wrap=True)
    _table(figure.add_subplot(grid[4]),
           [[f.name, f.verdict, textwrap.shorten(f.rule, 45), textwrap.shorten(f.reason, 60)]
            for f in result.findings], ["finding", "result", "rule", "why"], [0.15, 0.1, 0.3, 0.45])
    figure.text(0.06, 0.015, f"radiomark {__version__} · recipe {recipe.name} · model {textwrap.shorten(model, 70)}. "
                             "Research use only; not a medical device.", fontsize=6.5, color="grey")
    with atomic_file(path) as temporary:
        figure.savefig(temporary, format="pdf")
    plt.close(figure)
    return path
