"""The clinical recipes radiomark ships. This module imports no torch, so listing is instant."""

from __future__ import annotations

import os
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from radiomark.errors import RecipeError

if TYPE_CHECKING:
    from radiomark.recipes.schema import Recipe


class RecipeName(StrEnum):
    """Names of the five clinical recipes (see DESIGN.md)."""

    BRAIN_GWR = "brain-gwr"
    SARCOPENIA = "sarcopenia"
    NEONATAL_RDS = "neonatal-rds"
    NIGRA = "nigra"
    DISC_HERNIATION = "disc-herniation"


class Stage(StrEnum):
    """What ``train`` / ``evaluate`` work on: a recipe's segmenter, its image classifier, or both
    fine-tuned together (``joint``, training only)."""

    SEGMENT = "segment"
    CLASSIFY = "classify"
    JOINT = "joint"


def load_recipe(name_or_path: str | os.PathLike[str]) -> Recipe:
    """Load and validate a recipe by name (bundled file) or from a YAML file path."""
    import yaml
    from pydantic import ValidationError

    from radiomark.recipes.schema import Recipe

    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise RecipeError(f"{path}: recipe file not found")
        text, where = path.read_text(), str(path)
    else:
        try:
            name = RecipeName(str(name_or_path))
        except ValueError:
            raise RecipeError(f"unknown recipe {name_or_path!r}; recipes: {', '.join(RecipeName)}") from None
        if name is RecipeName.DISC_HERNIATION:
            raise RecipeError("disc-herniation is an image + clinical-data classifier, not a segmentation recipe: "
                              "use `radiomark index`, then `train` / `evaluate` / `run disc-herniation`")
        where = f"{name}.yaml"
        text = resources.files("radiomark.recipes").joinpath(where).read_text()
    try:
        return Recipe.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as error:
        message = " ".join(str(error).split())
        raise RecipeError(f"{where}: invalid recipe: {message}") from None
