"""HTML reports: per case (patient data used, overlay, measurements with units, decision and
citation) and per cohort (distribution of each measurement, a linked row per case, failures)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from radiomark import __version__
from radiomark.io.atomic import atomic_file

if TYPE_CHECKING:
    from radiomark.case import CaseResult
    from radiomark.recipes.schema import Recipe

#: The CSS class of a finding's verdict.
_CLASS = {True: "yes", False: "no", None: "undecided"}


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _series_section(series: Mapping[str, Any]) -> str:
    """Which series was analysed and why, and why every other series of the study was not."""
    if not series:
        return ""
    others = "".join(f"<li><code>…{escape(str(o['uid'])[-12:])}</code> '{escape(o['description'])}': "
                     f"{escape(o['why'])}</li>" for o in series.get("not_chosen", []))
    listing = (f"<details><summary>{len(series['not_chosen'])} other series not used</summary><ul>{others}</ul>"
               "</details>" if others else "")
    return (f"<h2>Series analysed</h2>\n<p><code>…{escape(str(series['uid'])[-12:])}</code> "
            f"'{escape(series['description'])}': {escape(series['why'])}</p>{listing}\n")


def _level_section(level: Mapping[str, Any]) -> str:
    """The vertebral level the slice was taken at, how it was found, and the QC picture."""
    if not level:
        return ""
    warnings = "".join(f"<li>{escape(w)}</li>" for w in level.get("warnings", []))
    named = ", ".join(f"{escape(str(v['name']))} (slice {v['centre_slice']})" for v in level.get("vertebrae", []))
    return (f"<h2>Vertebral level</h2>\n<p>{escape(str(level['level']))} at slice {level['slice_index']}, counted "
            f"from the {escape(str(level['anchor']))}, confidence <b>{escape(str(level['confidence']))}</b>. "
            f"Vertebrae found: {named}.</p>{f'<ul>{warnings}</ul>' if warnings else ''}"
            "<img src='level.png' alt='sagittal and coronal views with the vertebrae named' style='max-width:100%'>\n")


def render_case_report(recipe: Recipe, result: CaseResult, model: str) -> str:
    """The HTML text of ``report.html``; it shows ``overlay.png`` from the same folder."""
    template = Template(resources.files("radiomark.outputs").joinpath("templates/case.html").read_text())
    measurements = "\n".join(
        f"<tr><td>{escape(m.name.replace('_', ' '))}</td><td class='num'>{m.value:.2f}</td>"
        f"<td>{escape(m.unit)}</td><td>{escape(m.method)}</td></tr>" for m in result.measurements.values())
    findings = "\n".join(
        f"<tr><td>{escape(f.name)}</td><td class='{_CLASS[f.present]}'>{f.verdict}</td>"
        f"<td>{escape(f.rule)}</td><td>{escape(f.reason)}</td></tr>" for f in result.findings)
    if result.table in recipe.cutoff_tables:
        cutoffs = recipe.cutoff_tables[result.table]
        source = f"Cut-off table <b>{escape(cutoffs.title)}</b>: {escape(cutoffs.citation)}"
    else:
        source = "; ".join(f"<b>{escape(f.name)}</b> decided by {escape(f.table)} {escape(f.citation)}"
                           for f in result.findings) or "No decision rule applies to this recipe."
    clinical = result.clinical
    identifiers = ""
    if result.identifiers:
        names = "".join(f"<th>{escape(name.replace('_', ' '))}</th>" for name in result.identifiers)
        values = "".join(f"<td>{escape(value or '—')}</td>" for value in result.identifiers.values())
        identifiers = f"<h2>Identifiers kept</h2>\n<table><tr>{names}</tr><tr>{values}</tr></table>\n"
    return template.substitute(identifiers=identifiers,
                               series=_series_section(result.series) + _level_section(result.level),
        title=escape(recipe.title), case_id=escape(result.case_id), source=escape(result.source),
        sex=escape(clinical.sex or "—"), height=_number(clinical.height_m), weight=_number(clinical.weight_kg, 1),
        bmi=_number(clinical.bmi, 1), measurement_rows=measurements, finding_rows=findings,
        decision_source=source, version=__version__,
        recipe=escape(recipe.name), model=escape(model),
        flags=("<ul>" + "".join(f"<li class='yes'>{escape(flag)}</li>" for flag in result.flags) + "</ul>"
               if result.flags else "<p class='no'>No check fired.</p>"))


def write_case_report(recipe: Recipe, result: CaseResult, model: str, path: Path) -> Path:
    """Write ``report.html`` (inside a folder that is itself written atomically)."""
    path.write_text(render_case_report(recipe, result, model), encoding="utf-8")
    return path


def _numeric(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plot_distributions(rows: Sequence[Mapping[str, object]], columns: list[str], path: Path) -> None:
    from radiomark.outputs.figures import pyplot, save_png

    plt = pyplot()
    per_row = 4
    rows_needed = max(1, math.ceil(len(columns) / per_row))
    figure, axes = plt.subplots(rows_needed, per_row, figsize=(3.2 * per_row, 2.8 * rows_needed), squeeze=False)
    for axis in axes.flat[len(columns):]:
        axis.axis("off")
    for axis, column in zip(axes.flat, columns, strict=False):
        values = [v for v in (_numeric(row.get(column)) for row in rows) if v is not None]
        axis.hist(values, bins=min(20, max(5, len(values))), color="#4a7fb0")
        axis.set_title(column, fontsize=8)
        axis.set_ylabel("cases", fontsize=8)
    save_png(figure, path)


def write_cohort_report(rows: Sequence[Mapping[str, object]], failures: Sequence[Mapping[str, str]],
                        out: Path) -> Path:
    """``cohort.html`` with one linked row per case and, from two cases on, a histogram of each
    measurement (``cohort_distributions.png``; for one case it would show one bar and cost most of
    a single-study run's time)."""
    measures = [key for key in dict.fromkeys(k for row in rows for k in row) if "[" in key]
    distributions = ""
    if len(rows) > 1:
        _plot_distributions(rows, measures, out / "cohort_distributions.png")
        distributions = ("<h2>Distributions</h2>\n<img src=\"cohort_distributions.png\" alt=\"distribution of "
                         "each biomarker over the cohort\">")
    header = "".join(f"<th>{escape(h)}</th>" for h in ["case", "QC flags", *measures])
    lines = []
    for row in sorted(rows, key=lambda row: not row.get("qc_flags")):  # flagged cases first, else in order
        case = escape(str(row.get("case", "")))
        flags = [flag for flag in str(row.get("qc_flags") or "").split("; ") if flag]
        cells = [f"<td><a href='{case}/report.html'>{case}</a></td>",
                 f"<td class='{'yes' if flags else 'no'}' title='{escape('; '.join(flags))}'>{len(flags) or ''}</td>"]
        cells += [f"<td class='num'>{escape(str(row.get(m, '')))}</td>" for m in measures]
        lines.append(f"<tr>{''.join(cells)}</tr>")
    failed = "".join(f"<li class='failed'>{escape(f['study'])}: {escape(f['message'])}</li>" for f in failures)
    template = Template(resources.files("radiomark.outputs").joinpath("templates/cohort.html").read_text())
    text = template.substitute(count=len(rows), failed=len(failures), distributions=distributions, header=header,
                               rows="\n".join(lines),
                               failures=f"<h2>Failed studies</h2><ul>{failed}</ul>" if failures else "",
                               version=__version__)
    with atomic_file(out / "cohort.html") as temporary:
        temporary.write_text(text, encoding="utf-8")
    return out / "cohort.html"
