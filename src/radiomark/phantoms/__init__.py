"""Deterministic synthetic cases with exact ground truth for every recipe.

``generate_case(recipe, seed)`` returns a :class:`PhantomCase` made by the recipe's own
``phantom.py`` (see :mod:`radiomark.recipes.registry`); the same seed always gives the same
arrays, labels, truth and DICOM UIDs. Variation in size, rotation, noise and intensity is drawn
from the seed, so a range of seeds is a training set.
"""

from __future__ import annotations

from radiomark.phantoms.case import PhantomCase, PhantomFormat, PhantomSeries, write_case
from radiomark.recipes.registry import look_up

__all__ = ["PhantomCase", "PhantomFormat", "PhantomSeries", "generate_case", "write_case"]


def generate_case(recipe: str, seed: int) -> PhantomCase:
    """The phantom case of ``recipe`` (a registered recipe's name) for ``seed``."""
    case: PhantomCase = look_up(str(recipe)).module("phantom").generate(seed)
    return case
