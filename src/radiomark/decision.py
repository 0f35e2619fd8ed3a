"""Decisions: from measurements by a named, cited cut-off table (see ``recipes/*.yaml``), or from
a classifier's probability and threshold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from radiomark.biomarkers.measurement import Measurement
from radiomark.recipes.schema import CutoffRule, CutoffTable


@dataclass(frozen=True)
class Finding:
    """One finding of a table: ``present`` is ``None`` when it cannot be decided, with ``reason``."""

    name: str
    present: bool | None
    table: str
    citation: str
    rule: str
    reason: str

    @property
    def verdict(self) -> str:
        """"yes", "no" or "not decided", as every output writes the finding."""
        return {True: "yes", False: "no", None: "not decided"}[self.present]


def rule_text(rule: CutoffRule) -> str:
    """``rule`` as text: "MEASURE < VALUE if sex S and BMI < B"."""
    conditions = [f"sex {rule.sex}"] if rule.sex else []
    if rule.bmi_below is not None:
        conditions.append(f"BMI < {rule.bmi_below:g}")
    if rule.bmi_at_least is not None:
        conditions.append(f"BMI >= {rule.bmi_at_least:g}")
    where = f" if {' and '.join(conditions)}" if conditions else ""
    return f"{rule.measure} < {rule.below:g}{where}"


def _applies(rule: CutoffRule, sex: str | None, bmi: float | None) -> bool | None:
    """Whether the rule's sex and BMI band match; ``None`` when that needs missing data."""
    if rule.sex is not None:
        if sex not in ("M", "F"):
            return None
        if sex != rule.sex:
            return False
    if rule.bmi_below is not None or rule.bmi_at_least is not None:
        if bmi is None:
            return None
        if rule.bmi_below is not None and not bmi < rule.bmi_below:
            return False
        if rule.bmi_at_least is not None and not bmi >= rule.bmi_at_least:
            return False
    return True


def decide(table_name: str, table: CutoffTable, measurements: Mapping[str, Measurement],
           sex: str | None, bmi: float | None) -> list[Finding]:
    """Apply ``table``: one :class:`Finding` per finding name it defines.

    A finding is undecided (``present=None``) when sex, BMI or the measure it needs is missing;
    ``reason`` then says what is missing.
    """
    findings = []
    for name in dict.fromkeys(rule.finding for rule in table.rules):
        rules = [rule for rule in table.rules if rule.finding == name]
        matching = [rule for rule in rules if _applies(rule, sex, bmi)]
        if not matching:
            needs_sex = sex not in ("M", "F") and any(rule.sex is not None for rule in rules)
            needs_bmi = bmi is None and any(rule.bmi_below is not None or rule.bmi_at_least is not None
                                            for rule in rules)
            needs = [what for what, needed in (("sex", needs_sex), ("height and weight (BMI)", needs_bmi)) if needed]
            reason = f"not decided: {' and '.join(needs)} not given" if needs else "no rule of the table applies"
            if sex == "O" and needs_sex:
                reason = "not decided: sex O (other) given; this table's cut-offs are for men or women"
            findings.append(Finding(name, None, table_name, table.citation, "", reason))
            continue
        rule = matching[0]
        measurement = measurements.get(rule.measure)
        if measurement is None:
            findings.append(Finding(name, None, table_name, table.citation, rule_text(rule),
                                    f"not decided: {rule.measure} not measured (needs height/weight?)"))
            continue
        present = measurement.value < rule.below
        reason = f"{rule.measure} = {measurement.value:.2f} {'<' if present else '>='} {rule.below:g}"
        findings.append(Finding(name, present, table_name, table.citation, rule_text(rule), reason))
    return findings


def withhold(findings: list[Finding], reasons: list[str]) -> list[Finding]:
    """``findings`` undecided, each saying why, when quality control found ``reasons`` to doubt the
    result (see :func:`radiomark.quality.withholding_reasons`); a finding undecided already keeps
    its own reason first. Unchanged when there are no reasons."""
    if not reasons:
        return findings
    why = f"quality control: {'; '.join(reasons)}"
    return [Finding(f.name, None, f.table, f.citation, f.rule,
                    f"{f.reason}; {why}" if f.present is None else f"not decided: {why}") for f in findings]


def classifier_finding(positive: str, probability: float, threshold: float, model: str) -> Finding:
    """The finding of an image classifier: ``positive`` is present when ``probability >= threshold``."""
    present = probability >= threshold
    return Finding(positive, present, "classifier", model, f"P({positive}) >= {threshold:g}",
                   f"P({positive}) = {probability:.3f} {'>=' if present else '<'} {threshold:g}")
