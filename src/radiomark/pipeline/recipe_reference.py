"""A recipe's reference in Markdown, generated from its ``recipe.yaml`` and its code, so that the
documentation cannot drift from what runs: the series it reads, what it segments, every
measurement with its unit and method (measured on the recipe's phantom), the cut-off tables with
their citations and rules, and the quality-control rules (those that withhold a decision apart).
``docs/hooks.py`` puts it where a page says ``<!-- reference: RECIPE -->``."""

from __future__ import annotations

from radiomark.recipes.schema import Recipe


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _measurements(recipe: Recipe) -> str:
    """Name, unit and method of every measurement the recipe's code makes on its phantom."""
    from radiomark.case import Clinical
    from radiomark.io.study import StudyImages
    from radiomark.phantoms import generate_case
    from radiomark.pipeline.steps import measure

    case = generate_case(recipe.name, 0)
    clinical = Clinical(**{k: v for k, v in case.clinical.items() if k in ("sex", "height_m", "weight_kg")})
    measured = measure(recipe, StudyImages(tuple(series.image for series in case.series)), case.labels, clinical)
    return _table(["measurement", "unit (UCUM)", "method"], [[f"`{m.name}`", f"`{m.unit}`", m.method]
                                                             for m in measured.values()])


def _series(recipe: Recipe) -> list[str]:
    rules = recipe.series
    said = [f"modality {', '.join(rules.modality)}" if rules.modality else "",
            f"{rules.orientation} images" if rules.orientation else "",
            f"weighting {rules.weighting}" if rules.weighting else "",
            "slice thickness {}–{} mm".format(*("…" if v is None else f"{v:g}" for v in rules.slice_thickness_mm))
            if any(v is not None for v in rules.slice_thickness_mm) else "",
            f"refusing {', '.join(rules.refuse_image_types)}" if rules.refuse_image_types else "",
            f"then preferring {', '.join(p.replace('_', ' ') for p in rules.prefer)}" if rules.prefer else ""]
    return [f"- **Series**: {'; '.join(part for part in said if part)}."]


def _quality(recipe: Recipe) -> list[str]:
    spec = recipe.quality
    flagged = [f"slices thicker than {spec.max_slice_thickness_mm:g} mm",
               f"post-processing removing over {100 * spec.max_removed_fraction:g} % of a predicted structure"]
    if spec.expected_orientation:
        flagged.insert(0, f"an image that is not {spec.expected_orientation}")
    if spec.side_by_side:
        flagged.append(f"{spec.side_by_side[0]} and {spec.side_by_side[1]} not side by side")
    flagged += [f"a `{name}` outline with solidity under {lowest:g}" for name, lowest in spec.min_solidity.items()]
    withheld = ["a structure segmented nowhere"]
    withheld += [f"`{name}` outside {low:g}–{high:g}" for name, (low, high) in spec.plausible_ranges.items()]
    if spec.anatomy is not None:
        anatomy = spec.anatomy
        if anatomy.refused_body_parts:
            withheld.append(f"BodyPartExamined {', '.join(anatomy.refused_body_parts)}")
        if anatomy.body_width_mm:
            withheld.append(f"a body narrower than {anatomy.body_width_mm[0] / 10:g} cm or wider than "
                            f"{anatomy.body_width_mm[1] / 10:g} cm")
        withheld += [f"under {100 * share.at_least:g} % {name} ({share.hu[0]:g} to {share.hu[1]:g} HU) in the body"
                     for name, share in anatomy.tissues.items()]
    withheld += [f"over {100 * island.at_most:g} % of `{name}` floating in `{island.within}`"
                 for name, island in spec.islands.items()]
    if spec.min_confidence is not None:
        withheld.append(f"segmentation confidence under {spec.min_confidence:g}")
    return [f"- **Quality control** flags {'; '.join(flagged)}.",
            f"- **No decision** (\"not decided\", with the reason) on: {'; '.join(withheld)}."]


def _tables(recipe: Recipe) -> list[str]:
    from radiomark.decision import rule_text

    if not recipe.cutoff_tables:
        return []
    lines = ["", "Cut-off tables (`--table`; default "
             f"`{recipe.default_cutoff_table}`):", ""]
    for name, table in recipe.cutoff_tables.items():
        rules = "; ".join(f"{rule.finding}: {rule_text(rule)}" for rule in table.rules)
        lines.append(f"- `{name}` — {table.title}. {rules}. *{table.citation}* (checked: {table.verified})")
    return lines


def recipe_reference(name: str) -> str:
    """The Markdown reference of registered recipe ``name`` (see the module docstring)."""
    from radiomark.recipes import load_recipe

    recipe = load_recipe(name)
    structures = ", ".join(f"{value} `{label}`" for value, label in sorted(recipe.labels.items()))
    lines = ["## Reference (generated from the recipe)", "",
             f"- **Modality**: {recipe.modality}; {recipe.preprocessing.spatial_dims}D network "
             f"`{recipe.network.name}`.", *_series(recipe), f"- **Label map**: {structures}."]
    if recipe.vertebral_level:
        lines.append(f"- **Level**: a CT volume is measured at {recipe.vertebral_level}, found by counting vertebrae.")
    lines += [*_quality(recipe), *_tables(recipe), "", "Measurements (units as written in every output):", "",
              _measurements(recipe)]
    return "\n".join(lines) + "\n"
