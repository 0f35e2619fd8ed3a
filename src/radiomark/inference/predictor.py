"""A trained 2D segmenter (one or several folds) applied to a slice on its own grid."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image, LabelMap
from radiomark.models.factory import build_network
from radiomark.recipes import load_recipe
from radiomark.recipes.schema import Recipe
from radiomark.transforms.intensity import as_unit_float
from radiomark.transforms.spatial import canonical_flips, fitted_shape, flip, from_network_grid, to_network_grid


def bundled_model_dir(recipe_name: str) -> Path:
    """Folder of the default model shipped with radiomark for ``recipe_name``."""
    folder = Path(str(resources.files("radiomark.models").joinpath("weights", recipe_name)))
    if not (folder / "recipe.yaml").is_file():
        raise InputError(folder, f"no bundled model for {recipe_name}; train one and pass --model RUNDIR")
    return folder


@dataclass(frozen=True)
class Segmenter:
    """The recipe and the fold networks of a run folder; their sigmoid outputs are averaged."""

    recipe: Recipe
    networks: tuple[torch.nn.Module, ...]
    run_dir: Path

    @classmethod
    def load(cls, run_dir: str | Path) -> Segmenter:
        """Load ``run_dir/recipe.yaml`` and every ``run_dir/fold_*/best.pt``."""
        folder = Path(run_dir)
        if not (folder / "recipe.yaml").is_file():
            raise InputError(folder, "not a model folder (no recipe.yaml); give the --out folder of a training run")
        recipe = load_recipe(folder / "recipe.yaml")
        weights = sorted(folder.glob("fold_*/best.pt"))
        if not weights:
            raise InputError(folder, "no trained weights (fold_*/best.pt) in this model folder")
        networks = []
        for path in weights:
            network = build_network(recipe)
            try:
                network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except (RuntimeError, OSError, EOFError) as error:
                raise InputError(path, f"cannot load the weights ({' '.join(str(error).split())[:200]})") from None
            networks.append(network.eval())
        return cls(recipe, tuple(networks), folder)

    def probabilities(self, image: Image) -> np.ndarray:
        """Per-structure probabilities ``[labels, rows, columns]`` on ``image``'s own grid.

        The slice is windowed, flipped to the canonical orientation, scaled and padded onto the
        network grid (see :mod:`radiomark.transforms.spatial`), and the probabilities are brought
        back the same way.
        """
        if image.ndim != 2:
            raise GeometryError(image.metadata.get("source"), f"this model segments 2D slices, got {image.shape}")
        window, size = self.recipe.preprocessing.window, self.recipe.preprocessing.spatial_size
        flips, fitted = canonical_flips(image), fitted_shape(image, size)
        unit = torch.from_numpy(np.ascontiguousarray(flip(as_unit_float(image.array, window.level, window.width),
                                                          flips)))[None]
        # Padding is 0 on the windowed [0, 1] scale, the value air takes, as in training.
        network_input = torch.as_tensor(to_network_grid(unit, fitted, size, mode="area", pad_value=0.0))[None]
        with torch.no_grad():
            probabilities = torch.stack([torch.sigmoid(net(network_input))[0] for net in self.networks]).mean(0)
        back = np.asarray(from_network_grid(probabilities, fitted, image.shape), dtype=np.float32)
        return np.ascontiguousarray(flip(back, flips))

    def predict(self, image: Image) -> LabelMap:
        """Label map on ``image``'s grid: the most probable structure where its probability > 0.5."""
        probabilities = self.probabilities(image)
        best = probabilities.argmax(axis=0)
        labels = np.where(probabilities.max(axis=0) > 0.5, best + 1, 0)
        return LabelMap.like(image, labels, self.recipe.labels)
