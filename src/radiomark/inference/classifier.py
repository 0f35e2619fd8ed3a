"""A trained image-level classifier (``<run>/classifier/best.pt``) applied to one image."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radiomark.classification import CLASSIFIER_DIR, classifier_input
from radiomark.errors import InputError
from radiomark.image import Image, LabelMap
from radiomark.inference.onnx import OnnxNetwork, choose_backend, sigmoid
from radiomark.recipes import read_recipe
from radiomark.recipes.schema import Recipe


@dataclass(frozen=True)
class ImageClassifier:
    """The recipe and the classifier network of a run folder."""

    recipe: Recipe
    #: Float32 batch ``[n, 1, rows, columns]`` in, logits ``[n, 1]`` out (ONNX Runtime or torch).
    network: Callable[[np.ndarray], np.ndarray]
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
        if choose_backend(folder, "classifier", backend):
            return cls(recipe, OnnxNetwork(folder / CLASSIFIER_DIR / "model.onnx"), folder, "onnxruntime")
        from radiomark.inference.torch_network import load_torch_network
        from radiomark.models.factory import build_classifier

        spec = recipe.classifier
        return cls(recipe, load_torch_network(weights, lambda: build_classifier(spec)), folder)

    @staticmethod
    def exists(run_dir: str | os.PathLike[str]) -> bool:
        """Whether ``run_dir`` holds a trained classifier."""
        return (Path(run_dir) / CLASSIFIER_DIR / "best.pt").is_file()

    def probabilities(self, inputs: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Probability of the positive class for each prepared input ``[n, 1, rows, columns]``
        (:func:`~radiomark.classification.classifier_input`), in batches."""
        return np.concatenate([sigmoid(self.network(inputs[i:i + batch_size]))[:, 0]
                               for i in range(0, len(inputs), batch_size)])

    def probability(self, image: Image, structures: LabelMap | None) -> float:
        """Probability of the positive class (``recipe.classifier.classes[1]``) for a 2D image."""
        return float(self.probabilities(classifier_input(image, structures, self.recipe)[None])[0])
