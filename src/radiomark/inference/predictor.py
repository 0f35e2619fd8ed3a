"""A trained segmenter (one or several folds) applied to a 2D slice or a 3D study on its own grid."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from radiomark.errors import GeometryError, InputError
from radiomark.image import Image, LabelMap
from radiomark.inference.onnx import OnnxNetwork, choose_backend, sigmoid
from radiomark.inference.sliding_window import sliding_window_logits
from radiomark.recipes import read_recipe
from radiomark.recipes.schema import Recipe
from radiomark.transforms.network_input import network_slice
from radiomark.transforms.spatial import flip, from_network_grid, resize

#: A network as inference calls it: a float32 batch ``[n, channels, *spatial]`` in, logits out
#: (:class:`~radiomark.inference.onnx.OnnxNetwork`, or
#: :class:`~radiomark.inference.torch_network.TorchNetwork`).
Network = Callable[[np.ndarray], np.ndarray]


def bundled_model_dir(recipe_name: str) -> Path:
    """Folder of the default model shipped with radiomark for ``recipe_name``."""
    folder = Path(str(resources.files("radiomark.models").joinpath("weights", recipe_name)))
    if not (folder / "recipe.yaml").is_file():
        raise InputError(folder, f"no bundled model for {recipe_name}; train one and pass --model RUNDIR")
    return folder


def bundled_model_dirs(recipe_name: str) -> list[Path]:
    """Every bundled model of ``recipe_name``, the default first: ``weights/<name>``, then its
    variants ``weights/<name>-<variant>`` for other inputs (e.g. ``nigra-nm``, one NM image)."""
    first = bundled_model_dir(recipe_name)
    variants = sorted(p for p in first.parent.glob(f"{recipe_name}-*") if (p / "recipe.yaml").is_file())
    return [first, *variants]


def whole_image_logits(network: Network, recipe: Recipe, images: np.ndarray) -> np.ndarray:
    """Logits of a batch on the network grid: the network on the whole image (2D), or
    sliding-window inference over the recipe's patches with Gaussian weighting (3D, see
    :mod:`radiomark.inference.sliding_window`)."""
    spec = recipe.preprocessing
    if spec.spatial_dims == 2:
        return network(images)
    return sliding_window_logits(network, images, spec.patch(), spec.sliding_window_overlap)


@dataclass(frozen=True)
class Prediction:
    """A segmentation on the image's grid: the label map, the per-structure probabilities
    ``[labels, *image.shape]`` and whether the rotation rule fired."""

    labels: LabelMap
    probabilities: np.ndarray
    rotation_fired: bool = False


def _train_foreground_fraction(run_dir: Path) -> float | None:
    """Mean labelled fraction of the network grid over the training images (``metrics.json``)."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        return None
    folds = json.loads(metrics.read_text()).get("folds", [])
    values = [fold["train_foreground_fraction"] for fold in folds if "train_foreground_fraction" in fold]
    return float(np.mean(values)) if values else None


def _centred(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The centre ``shape`` of ``[channels, rows, columns]``, cropped or padded (edges replicated)."""
    for axis, size in ((1, shape[0]), (2, shape[1])):
        extra = array.shape[axis] - size
        if extra > 0:
            array = np.take(array, range(extra // 2, extra // 2 + size), axis=axis)
        elif extra < 0:
            widths = [(0, 0)] * array.ndim
            widths[axis] = (-extra // 2, -extra - (-extra // 2))
            array = np.pad(array, widths, mode="edge")
    return array


@dataclass(frozen=True)
class Segmenter:
    """The recipe and the fold networks of a run folder; their sigmoid outputs are averaged."""

    recipe: Recipe
    networks: tuple[Network, ...]
    run_dir: Path
    train_foreground_fraction: float | None = None
    backend: str = "torch"

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], recipe: Recipe | None = None, backend: str = "auto") -> Segmenter:
        """Load ``run_dir/recipe.yaml`` and every ``run_dir/fold_*/best.pt``.

        ``recipe`` is the recipe to run the model for: post-processing (and everything that is not
        fixed by training) comes from it; labels and inputs must match the stored recipe (see
        :meth:`~radiomark.recipes.schema.Recipe.trained_as`). ``backend``: see
        :func:`radiomark.inference.onnx.choose_backend` (ONNX Runtime when exported and faster);
        on ONNX Runtime neither torch nor MONAI is imported.
        """
        folder = Path(run_dir)
        if not (folder / "recipe.yaml").is_file():
            raise InputError(folder, "not a model folder (no recipe.yaml); give the --out folder of a training run")
        stored = read_recipe(folder / "recipe.yaml")
        recipe = stored if recipe is None else recipe.trained_as(stored, folder)
        weights = sorted(folder.glob("fold_*/best.pt"))
        if not weights:
            raise InputError(folder, "no trained weights (fold_*/best.pt) in this model folder")
        networks: list[Network]
        if choose_backend(folder, "segmenter", backend):
            networks, backend = [OnnxNetwork(path.parent / "model.onnx") for path in weights], "onnxruntime"
        else:
            from radiomark.inference.torch_network import load_torch_network
            from radiomark.models.factory import build_network

            networks = [load_torch_network(path, lambda: build_network(recipe)) for path in weights]
            backend = "torch"
        fraction = _train_foreground_fraction(folder)
        if recipe.postprocessing.rotation_rule is not None and fraction is None:
            raise InputError(folder / "metrics.json", "the recipe's rotation rule needs the training images' "
                                                      "train_foreground_fraction, which this model folder lacks")
        return cls(recipe, tuple(networks), folder, fraction, backend)

    def network_probabilities(self, network_input: np.ndarray) -> np.ndarray:
        """Sigmoid probabilities ``[labels, ...]`` (float32) on the network grid of a batch of one
        ``[1, channels, ...]``, averaged over the folds."""
        return np.stack([sigmoid(whole_image_logits(net, self.recipe, network_input))[0]
                         for net in self.networks]).mean(axis=0, dtype=np.float32)

    def _test_time_zoomed(self, network_input: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """``probabilities`` averaged with those of the 2D ``network_input`` zoomed about its centre by
        each of the recipe's ``test_time_scales`` (bilinear; edges replicated where it shrinks),
        each zoomed back onto the network grid."""
        scales = self.recipe.postprocessing.test_time_scales
        if not scales:
            return probabilities
        rows, columns = network_input.shape[-2:]
        predictions = [probabilities]
        for scale in scales:
            size = (max(2, round(rows * scale)), max(2, round(columns * scale)))
            zoomed = _centred(resize(network_input[0], size, "bilinear"), (rows, columns))[None]
            back = _centred(self.network_probabilities(zoomed), size)
            predictions.append(resize(back, (rows, columns), "bilinear"))
        return np.stack(predictions).mean(axis=0, dtype=np.float32)

    def _rotation_rule(self, network_input: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, bool]:
        """Average with the predictions of the input rotated ±90° when the foreground is too small."""
        rule = self.recipe.postprocessing.rotation_rule
        if rule is None or self.train_foreground_fraction is None:
            return probabilities, False
        foreground = float((probabilities > 0.5).sum()) / probabilities[0].size
        if foreground >= rule.area_fraction * self.train_foreground_fraction:
            return probabilities, False
        rotated = [np.rot90(self.network_probabilities(np.ascontiguousarray(np.rot90(network_input, k, axes=(2, 3)))),
                            -k, axes=(1, 2)) for k in (1, -1)]
        return np.stack([probabilities, *rotated]).mean(axis=0, dtype=np.float32), True

    def _median_filter(self, probabilities: np.ndarray) -> np.ndarray:
        """Per-structure median over a (2·radius + 1)-voxel cube, edges replicated (MONAI's
        ``MedianSmooth``)."""
        radius = self.recipe.postprocessing.median_filter_radius
        if not radius:
            return probabilities
        from scipy.ndimage import median_filter

        return median_filter(probabilities, size=(1, *[2 * radius + 1] * (probabilities.ndim - 1)), mode="nearest")

    def _labels(self, image: Image, probabilities: np.ndarray, rotated: bool = False) -> Prediction:
        """A pixel takes the most probable structure where that probability exceeds 0.5."""
        best = probabilities.argmax(axis=0)
        labels = np.where(probabilities.max(axis=0) > 0.5, best + 1, 0)
        return Prediction(LabelMap.like(image, labels, self.recipe.labels), probabilities, rotated)

    def _segment_volume(self, channels: Sequence[Image]) -> Prediction:
        """Channels onto the LPS-aligned network grid (:mod:`radiomark.transforms.volume`),
        sliding-window probabilities there (fold mean, median filter), back onto the first
        channel's grid (SimpleITK, imported here: a 2D run does without it)."""
        from radiomark.transforms import volume

        spec, first = self.recipe.preprocessing, channels[0]
        if spec.target_spacing_mm is None or spec.patch_size is None:
            raise InputError(self.run_dir, "the model's recipe has no planned target_spacing_mm / patch_size")
        reference = volume.network_grid(first, spec.target_spacing_mm)
        network_input = volume.channels_on_grid(channels, spec, reference)[None]
        probabilities = self._median_filter(self.network_probabilities(network_input))
        return self._labels(first, volume.from_network_grid(probabilities, reference, first))

    def segment(self, image: Image | Sequence[Image]) -> Prediction:
        """Segment an image, or a study's channels in the recipe's order: probabilities and label
        map on the (first) image's own grid.

        A 3D recipe resamples the volume onto its network grid (see :meth:`_segment_volume`). A
        2D recipe maps the slice's intensities to [0, 1] (recipe preprocessing), flips it to the
        canonical orientation, scales and pads it onto the network grid (see
        :mod:`radiomark.transforms.spatial`); the rotation rule and median filter of the recipe
        act there, and the probabilities are brought back the same way. A pixel takes the most
        probable structure where that probability exceeds 0.5.
        """
        channels = (image,) if isinstance(image, Image) else tuple(image)
        wanted = len(self.recipe.inputs.echoes)
        if len(channels) != wanted:
            raise InputError(channels[0].metadata.get("source"), f"this model takes {wanted} input image(s) (echo "
                                                                 f"ranks {list(self.recipe.inputs.echoes)}), got "
                                                                 f"{len(channels)}")
        if self.recipe.preprocessing.spatial_dims == 3:
            return self._segment_volume(channels)
        image = channels[0]
        if image.ndim != 2:
            raise GeometryError(image.metadata.get("source"), f"this model segments 2D slices, got {image.shape}")
        network_input, flips, fitted = network_slice(image, self.recipe.preprocessing)
        network_input = network_input[None]
        probabilities = self._test_time_zoomed(network_input, self.network_probabilities(network_input))
        probabilities, rotated = self._rotation_rule(network_input, probabilities)
        probabilities = self._median_filter(probabilities)
        shape = (image.shape[0], image.shape[1])
        back = np.ascontiguousarray(flip(from_network_grid(probabilities, fitted, shape), flips))
        return self._labels(image, back, rotated)

    def probabilities(self, image: Image | Sequence[Image]) -> np.ndarray:
        """Per-structure probabilities ``[labels, *image.shape]`` on ``image``'s own grid."""
        return self.segment(image).probabilities

    def predict(self, image: Image | Sequence[Image]) -> LabelMap:
        """Label map on ``image``'s grid (see :meth:`segment`)."""
        return self.segment(image).labels
