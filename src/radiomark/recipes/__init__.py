"""The clinical recipes: loading, validating and finding a recipe's code. Imports no torch, so
listing is instant. Recipes are registered in :mod:`radiomark.recipes.registry`."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from radiomark.errors import RecipeError
from radiomark.recipes.registry import PipelineKind, look_up

if TYPE_CHECKING:
    from pydantic import BaseModel

    from radiomark.recipes.schema import Recipe


class Stage(StrEnum):
    """What ``train`` / ``evaluate`` work on: a recipe's segmenter, its image classifier, or both
    fine-tuned together (``joint``, training only)."""

    SEGMENT = "segment"
    CLASSIFY = "classify"
    JOINT = "joint"


def recipe_document(name_or_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """The parsed YAML of a registered recipe (by name) or of a recipe file, and where it came from."""
    import yaml

    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise RecipeError(f"{path}: recipe file not found")
        text, where = path.read_text(), str(path)
    else:
        text, where = look_up(str(name_or_path)).yaml_text(), f"recipe {name_or_path}"
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RecipeError(f"{where}: not valid YAML ({' '.join(str(error).split())})") from None
    if not isinstance(document, dict):
        raise RecipeError(f"{where}: a recipe is a YAML mapping of sections")
    return document, where


def recipe_kind(name_or_path: str | os.PathLike[str]) -> PipelineKind:
    """The pipeline kind of a registered recipe or a recipe file (``kind:``, default segment_measure)."""
    return document_kind(*recipe_document(name_or_path))


def document_kind(document: dict[str, Any], where: str) -> PipelineKind:
    """The pipeline kind a parsed recipe declares (``kind:``, default segment_measure)."""
    try:
        return PipelineKind(document.get("kind", PipelineKind.SEGMENT_MEASURE))
    except ValueError:
        raise RecipeError(f"{where}: unknown kind {document.get('kind')!r}; kinds: {', '.join(PipelineKind)}") from None


def base_name(recipe: Recipe) -> str:
    """The registered recipe whose code ``recipe`` uses (``based_on``, else its own name)."""
    return recipe.based_on or recipe.name


def biomarkers_module(recipe: Recipe) -> ModuleType:
    """The ``biomarkers`` module of the registered recipe ``recipe`` is based on."""
    return look_up(base_name(recipe)).module("biomarkers")


def measure_parameters(recipe: Recipe) -> BaseModel:
    """The recipe's ``measures`` section validated by its biomarkers' ``Parameters`` model, with
    every label it names checked against the recipe's labels."""
    from pydantic import ValidationError

    module = biomarkers_module(recipe)
    try:
        parameters: BaseModel = module.Parameters.model_validate(recipe.measures)
    except ValidationError as error:
        raise RecipeError(f"recipe {recipe.name}: invalid measures section: {' '.join(str(error).split())}") from None
    unknown = parameters.label_names() - set(recipe.labels.values())  # type: ignore[attr-defined]
    if unknown:
        raise RecipeError(f"recipe {recipe.name}: measures name unknown labels {sorted(unknown)}; labels: "
                          f"{', '.join(recipe.labels.values())}")
    return parameters


def clinical_inputs(recipe: Recipe) -> set[str]:
    """The patient data ``recipe`` uses: ``sex``, ``height``, ``weight`` (as the CLI names them),
    from its biomarkers' ``CLINICAL`` and the sex- and BMI-specific rules of its cut-off tables."""
    used = {name.removesuffix("_m").removesuffix("_kg") for name in biomarkers_module(recipe).CLINICAL}
    rules = [rule for table in recipe.cutoff_tables.values() for rule in table.rules]
    if any(rule.sex is not None for rule in rules):
        used.add("sex")
    if any(rule.bmi_below is not None or rule.bmi_at_least is not None for rule in rules):
        used |= {"height", "weight"}
    return used


def read_recipe(name_or_path: str | os.PathLike[str]) -> Recipe:
    """A segment-and-measure recipe checked against the schema only (e.g. a model folder's
    ``recipe.yaml``, which records what training fixed)."""
    from pydantic import ValidationError

    from radiomark.recipes.schema import Recipe

    document, where = recipe_document(name_or_path)
    if document_kind(document, where) is PipelineKind.FUSION_CLASSIFY:
        raise RecipeError(f"{where}: {document.get('name')} is an image + clinical-data classifier "
                          f"({PipelineKind.FUSION_CLASSIFY}), not a segmentation recipe: use `radiomark index`, then "
                          f"`train` / `evaluate` / `run {document.get('name')}`")
    try:
        return Recipe.model_validate(document)
    except ValidationError as error:
        raise RecipeError(f"{where}: invalid recipe: {' '.join(str(error).split())}") from None


def load_recipe(name_or_path: str | os.PathLike[str]) -> Recipe:
    """Load and validate a recipe by name (a registered recipe) or from a YAML file path: the
    schema, then its measures against the code of the registered recipe it is based on."""
    recipe = read_recipe(name_or_path)
    measure_parameters(recipe)
    return recipe
