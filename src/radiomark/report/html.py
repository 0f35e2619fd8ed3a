"""Per-case HTML report: patient data used, overlay, measurements with units, decision and citation."""

from __future__ import annotations

from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from radiomark import __version__

if TYPE_CHECKING:
    from radiomark.pipeline import CaseResult
    from radiomark.recipes.schema import Recipe

_VERDICT = {True: ("yes", "yes"), False: ("no", "no"), None: ("undecided", "undecided")}


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_case_report(recipe: Recipe, result: CaseResult, model: str) -> str:
    """The HTML text of ``report.html``; it shows ``overlay.png`` from the same folder."""
    template = Template(resources.files("radiomark.report").joinpath("templates/case.html").read_text())
    measurements = "\n".join(
        f"<tr><td>{escape(m.name.replace('_', ' '))}</td><td class='num'>{m.value:.2f}</td>"
        f"<td>{escape(m.unit)}</td><td>{escape(m.method)}</td></tr>" for m in result.measurements.values())
    findings = "\n".join(
        f"<tr><td>{escape(f.name)}</td><td class='{_VERDICT[f.present][0]}'>{_VERDICT[f.present][1]}</td>"
        f"<td>{escape(f.rule)}</td><td>{escape(f.reason)}</td></tr>" for f in result.findings)
    cutoffs = recipe.cutoff_tables[result.table]
    clinical = result.clinical
    return template.substitute(
        title=escape(recipe.title), case_id=escape(result.case_id), source=escape(result.source),
        sex=escape(clinical.sex or "—"), height=_number(clinical.height_m), weight=_number(clinical.weight_kg, 1),
        bmi=_number(clinical.bmi, 1), measurement_rows=measurements, finding_rows=findings,
        table_title=escape(cutoffs.title), citation=escape(cutoffs.citation), version=__version__,
        recipe=escape(recipe.name), model=escape(model))


def write_case_report(recipe: Recipe, result: CaseResult, model: str, path: Path) -> Path:
    """Write ``report.html`` (inside a folder that is itself written atomically)."""
    path.write_text(render_case_report(recipe, result, model), encoding="utf-8")
    return path
