"""Deterministic synthetic cases with exact ground truth for every recipe.

``generate_case(recipe, seed)`` returns a :class:`PhantomCase`; the same seed always gives the
same arrays, labels, truth and DICOM UIDs. Variation in size, rotation, noise and intensity is
drawn from the seed, so a range of seeds is a training set.
"""

from __future__ import annotations

from collections.abc import Callable

from radiomark.errors import RecipeError
from radiomark.phantoms.brain_gwr import brain_gwr_case
from radiomark.phantoms.case import PhantomCase, PhantomFormat, PhantomSeries, write_case
from radiomark.phantoms.disc_herniation import disc_herniation_case
from radiomark.phantoms.neonatal_rds import neonatal_rds_case
from radiomark.phantoms.nigra import nigra_case
from radiomark.phantoms.sarcopenia import sarcopenia_case
from radiomark.recipes import RecipeName

GENERATORS: dict[RecipeName, Callable[[int], PhantomCase]] = {
    RecipeName.SARCOPENIA: sarcopenia_case,
    RecipeName.BRAIN_GWR: brain_gwr_case,
    RecipeName.NEONATAL_RDS: neonatal_rds_case,
    RecipeName.NIGRA: nigra_case,
    RecipeName.DISC_HERNIATION: disc_herniation_case,
}

__all__ = ["GENERATORS", "PhantomCase", "PhantomFormat", "PhantomSeries", "generate_case", "write_case"]


def generate_case(recipe: RecipeName | str, seed: int) -> PhantomCase:
    """The phantom case of ``recipe`` for ``seed``."""
    try:
        name = RecipeName(recipe)
    except ValueError:
        import difflib

        close = difflib.get_close_matches(str(recipe), [r.value for r in RecipeName], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RecipeError(f"unknown recipe {recipe!r} (recipes: {', '.join(RecipeName)}){hint}") from None
    return GENERATORS[name](seed)
