"""The one registry of recipes: every recipe, bundled or a user's, is a Python package registered
under the entry-point group ``radiomark.recipes`` (pydicom's plug-in pattern).

A recipe package holds the same files for every recipe:

* ``recipe.yaml`` — the recipe as data (:mod:`radiomark.recipes.schema`), with its pipeline
  ``kind``;
* ``biomarkers.py`` — ``measure(recipe, study, labels, clinical) -> dict[str, Measurement]``, the
  ``Parameters`` model of the recipe's ``measures`` section (with ``label_names()``: the label
  roles it needs, checked against ``labels`` when the recipe is loaded), ``CLINICAL`` (the patient
  data it uses) and ``SR_CODES`` (a unique DICOM SR code per measurement name);
* ``phantom.py`` — ``generate(seed) -> PhantomCase`` and, optionally, ``finish(outdir)`` run after a
  set of cases is written;
* ``dataset.py`` (optional) — importers of public data sets into the case layout and, optionally,
  ``template_generator(template, atlas_dir)`` for ``radiomark phantom --template``.

A user adds a recipe without editing radiomark: a package with those files and, in its own
``pyproject.toml``::

    [project.entry-points."radiomark.recipes"]
    my-recipe = "my_package.my_recipe"

Listing reads package metadata and the YAML files only: it imports no torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata, resources
from types import ModuleType

from radiomark.errors import RecipeError, did_you_mean

#: The entry-point group recipes are registered under.
ENTRY_POINT_GROUP = "radiomark.recipes"


class PipelineKind(StrEnum):
    """How a recipe turns a study into a result: segment then measure and decide, or classify
    images fused with clinical data."""

    SEGMENT_MEASURE = "segment_measure"
    FUSION_CLASSIFY = "fusion_classify"


@dataclass(frozen=True)
class RecipeEntry:
    """A registered recipe: its name and the package holding its files."""

    name: str
    package: str

    def yaml_text(self) -> str:
        """The text of the package's ``recipe.yaml``."""
        try:
            return resources.files(self.package).joinpath("recipe.yaml").read_text()
        except (ModuleNotFoundError, FileNotFoundError) as error:
            raise RecipeError(f"recipe {self.name!r} is registered as package {self.package!r}, which has no "
                              f"recipe.yaml ({error})") from None

    def has_module(self, part: str) -> bool:
        """Whether the package has a ``part`` module (``dataset`` is optional)."""
        return resources.files(self.package).joinpath(f"{part}.py").is_file()

    def module(self, part: str) -> ModuleType:
        """The package's ``biomarkers`` or ``phantom`` module."""
        try:
            return importlib.import_module(f"{self.package}.{part}")
        except ModuleNotFoundError as error:
            raise RecipeError(f"recipe {self.name!r} ({self.package}) has no {part}.py ({error})") from None


def entries() -> dict[str, RecipeEntry]:
    """Every registered recipe by name, sorted by name."""
    found = {point.name: RecipeEntry(point.name, point.value)
             for point in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if not found:
        raise RecipeError(f"no recipes are registered (entry-point group {ENTRY_POINT_GROUP!r}); install radiomark "
                          "with pip (pip install -e .) so that its bundled recipes are registered")
    return dict(sorted(found.items()))


def names() -> list[str]:
    """Names of the registered recipes."""
    return list(entries())


def look_up(name: str) -> RecipeEntry:
    """The registered recipe ``name``; an unknown name is an error that lists the recipes and the
    closest one."""
    known = entries()
    if name in known:
        return known[name]
    raise RecipeError(f"unknown recipe {name!r} (recipes: {', '.join(known)}){did_you_mean(name, known)}")
