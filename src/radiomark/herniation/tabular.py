"""Clinical inputs of the fusion model: checked against the recipe's columns and scaled.

Values arrive as text (CSV cells, command-line options) or numbers. A missing value, a number out
of its column's valid range, an unknown sex or a level the recipe does not list is an
:class:`~radiomark.errors.InputError` naming the column, the value and where it came from — the
model never sees an imputed value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from radiomark.errors import InputError
from radiomark.herniation.recipe import HerniationRecipe, TabularColumn

_SEXES = {"M": 1.0, "MALE": 1.0, "F": 0.0, "FEMALE": 0.0}


def _raw_value(column: TabularColumn, value: Any, levels: tuple[str, ...], where: str) -> float:
    text = "" if value is None else str(value).strip()
    if not text or text.lower() in ("nan", "na", "none"):
        raise InputError(where, f"missing {column.name}")
    if column.kind == "sex":
        if text.upper() not in _SEXES:
            raise InputError(where, f"sex {text!r} is not M or F")
        return _SEXES[text.upper()]
    if column.kind == "level":
        if text.upper() not in levels:
            raise InputError(where, f"disc level {text!r} is not one of {', '.join(levels)}")
        return float(levels.index(text.upper()))
    try:
        number = float(text)
    except ValueError:
        raise InputError(where, f"{column.name} {text!r} is not a number") from None
    low, high = column.valid_range or (-math.inf, math.inf)
    if not (math.isfinite(number) and low <= number <= high):
        raise InputError(where, f"{column.name} {text} {column.unit}".rstrip() + f" is outside {low:g}–{high:g}")
    return number


def tabular_vector(values: Mapping[str, Any], recipe: HerniationRecipe, where: str) -> np.ndarray:
    """The scaled clinical vector (float32, one entry per recipe column, in recipe order) of
    ``values`` (column name → value); ``where`` names the source in errors."""
    vector = []
    for column in recipe.tabular:
        raw = _raw_value(column, values.get(column.name), recipe.levels, where)
        vector.append((raw - column.scale[0]) / column.scale[1])
    return np.asarray(vector, dtype=np.float32)

