"""The ``disc-herniation`` recipe as data (``recipes/disc-herniation.yaml``).

Unlike the segmentation recipes it describes a classifier over two inputs: the T2 axial image at a
disc level (cropped by fixed margins, resized, min–max scaled to 0–1, as the seed study did) and a
few clinical columns, each with its valid range and scaling.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from radiomark.errors import RecipeError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageInput(_Strict):
    """``crop``: fractions of the rows cut at the top and bottom and of the columns cut at the left
    and right (fixed margins); ``size``: (rows, columns) after resizing (area interpolation)."""

    crop: tuple[float, float, float, float] = (0.1, 0.1, 0.1, 0.1)
    size: tuple[int, int] = (300, 300)

    @model_validator(mode="after")
    def _keeps_something(self) -> ImageInput:
        top, bottom, left, right = self.crop
        if min(self.crop) < 0 or top + bottom >= 1 or left + right >= 1:
            raise ValueError(f"image.crop {self.crop} must be non-negative fractions leaving part of the image")
        return self


class TabularColumn(_Strict):
    """One clinical input: ``number`` (checked against ``valid_range``), ``sex`` (M → 1, F → 0) or
    ``level`` (index of the disc level in the recipe's ``levels``). The network sees
    ``(value - offset) / divisor`` with ``scale = (offset, divisor)``."""

    name: str
    kind: Literal["number", "sex", "level"]
    unit: str = ""
    valid_range: tuple[float, float] | None = None
    scale: tuple[float, float] = (0.0, 1.0)

    @model_validator(mode="after")
    def _checks(self) -> TabularColumn:
        if self.scale[1] == 0:
            raise ValueError(f"tabular column {self.name}: scale divisor must not be 0")
        if self.kind == "number" and self.valid_range is None:
            raise ValueError(f"tabular column {self.name}: a number needs a valid_range")
        return self


class FusionNetwork(_Strict):
    """Image branch (the seed study's CNN: conv blocks with LeakyReLU and max-pooling, or MONAI's
    EfficientNetBN), its embedding, the tabular MLP, and the fused head with dropout."""

    image_branch: Literal["study_cnn", "efficientnet-b0", "efficientnet-b1"] = "study_cnn"
    image_channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    batch_norm: bool = Field(True, description="batch normalisation in the study CNN's blocks (the study does not "
                                               "say; without it the plain 5-block CNN did not learn here)")
    embedding: int = Field(500, ge=1)
    tabular_units: int = Field(500, ge=1)
    head: tuple[int, ...] = (512, 512)
    dropout: float = Field(0.1, ge=0, lt=1)


class FusionTraining(_Strict):
    """Optimiser, schedule, augmentation and the (train, validation, test) split fractions; the
    split is grouped by patient and stratified by label."""

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(16, ge=2)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    flip_probability: float = Field(0.5, ge=0, le=1, description="left–right flips (the finding has no side)")
    rotate_degrees: float = Field(5.0, ge=0)
    noise_std: float = Field(0.02, ge=0)
    seed: int = 0

    @model_validator(mode="after")
    def _fractions(self) -> FusionTraining:
        if abs(sum(self.split) - 1) > 1e-6 or min(self.split) <= 0:
            raise ValueError(f"training.split {self.split} must be three positive fractions summing to 1")
        return self


class HerniationRecipe(_Strict):
    """The disc-herniation recipe."""

    name: Literal["disc-herniation"]
    kind: Literal["fusion_classify"] = "fusion_classify"
    title: str
    series_rules: str = Field(description="bundled series rules (recipes/series/<name>.yaml) or a file")
    levels: tuple[str, ...]
    image: ImageInput = Field(default_factory=ImageInput)
    tabular: tuple[TabularColumn, ...]
    classes: tuple[str, str] = ("no_herniation", "herniation")
    threshold: float = Field(0.5, gt=0, lt=1)
    network: FusionNetwork = Field(default_factory=FusionNetwork)
    training: FusionTraining = Field(default_factory=FusionTraining)
    bootstrap: int = Field(1000, ge=100, description="bootstrap resamples (of patients) for 95 % CIs")
    canal_labels: tuple[int, ...] = Field((2, 3), description="values of a canal label map that make up the thecal "
                                                              "sac (the sac and the nerve roots inside it)")
    stenosis_ap_mm: float = Field(10.0, description="absolute stenosis: thecal sac AP diameter below this")
    stenosis_area_mm2: float = Field(100.0, description="absolute stenosis: dural sac area below this")

    @model_validator(mode="after")
    def _columns(self) -> HerniationRecipe:
        names = [column.name for column in self.tabular]
        if len(set(names)) != len(names):
            raise ValueError(f"tabular column names repeat: {names}")
        if sum(column.kind == "level" for column in self.tabular) > 1:
            raise ValueError("at most one tabular column is the disc level")
        return self


def load_run_recipe(run_dir: str | os.PathLike[str]) -> HerniationRecipe:
    """The recipe a disc-herniation run folder was trained with (its ``recipe.yaml``)."""
    from radiomark.errors import InputError

    path = Path(run_dir) / "recipe.yaml"
    if not path.is_file():
        raise InputError(run_dir, "not a disc-herniation run folder (no recipe.yaml); train one with "
                                  "`radiomark train disc-herniation`")
    return load_herniation_recipe(path)


def load_herniation_recipe(name_or_path: str | os.PathLike[str] = "disc-herniation") -> HerniationRecipe:
    """The bundled recipe, or one from a YAML file (e.g. a run folder's ``recipe.yaml``)."""
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise RecipeError(f"{path}: recipe file not found")
        where, text = str(path), path.read_text()
    else:
        from radiomark.recipes.registry import look_up

        where, text = f"recipe {name_or_path}", look_up(str(name_or_path)).yaml_text()
    try:
        return HerniationRecipe.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as error:
        raise RecipeError(f"{where}: invalid recipe ({' '.join(str(error).splitlines()[:3])})") from None
