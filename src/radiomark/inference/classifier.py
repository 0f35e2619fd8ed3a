"""A trained image-level classifier (``<run>/classifier/best.pt``) applied to one image."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from radiomark.classification import CLASSIFIER_DIR, classifier_input
from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.inference.onnx import OnnxNetwork, choose_backend
from radiomark.models.factory import build_classifier
from radiomark.recipes import read_recipe
from radiomark.recipes.schema import Recipe


@dataclass(frozen=True)
class ImageClassifier:
    """The recipe and the classifier network of a run folder."""

    recipe: Recipe
    network: Callable[[torch.Tensor], torch.Tensor]
    run_dir: Path
    backend: str = "torch"

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], backend: str = "auto") -> ImageClassifier:
        """Load ``run_dir/classifier/recipe.yaml`` (the recipe the classifier was trained with) and
        ``run_dir/classifier/best.pt`` (``backend``: see :func:`radiomark.inference.onnx.choose_backend`)."""
        folder = Path(run_dir)
        weights = folder / CLASSIFIER_DIR / "best.pt"
        if not (folder / CLASSIFIER_DIR / "recipe.yaml").is_file() or not weights.is_file():
            raise InputError(folder, f"no trained classifier ({CLASSIFIER_DIR}/best.pt) in this model folder; "
                                     "train one with --stage classify")
        recipe = read_recipe(folder / CLASSIFIER_DIR / "recipe.yaml")
        if recipe.classifier is None:
            raise InputError(folder / CLASSIFIER_DIR / "recipe.yaml", f"recipe {recipe.name} has no classifier")
        network = build_classifier(recipe.classifier)
        try:
            network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, EOFError) as error:
            raise InputError(weights, f"cannot load the weights ({' '.join(str(error).split())[:200]})") from None
        if choose_backend(folder, "classifier", backend):
            return cls(recipe, OnnxNetwork(folder / CLASSIFIER_DIR / "model.onnx"), folder, "onnxruntime")
        return cls(recipe, network.eval(), folder)

    @staticmethod
    def exists(run_dir: str | os.PathLike[str]) -> bool:
        """Whether ``run_dir`` holds a trained classifier."""
        return (Path(run_dir) / CLASSIFIER_DIR / "best.pt").is_file()

    def probability(self, image: Image, structures: LabelMap | None) -> float:
        """Probability of the positive class (``recipe.classifier.classes[1]``) for a 2D image."""
        network_input = torch.from_numpy(classifier_input(image, structures, self.recipe))[None]
        with torch.no_grad():
            return float(torch.sigmoid(self.network(network_input))[0, 0])
