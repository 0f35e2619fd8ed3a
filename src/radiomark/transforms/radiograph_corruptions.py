"""What real-world chest films do to the lungs' appearance, drawn onto clean radiographs whose lung
masks stay the truth (the radiologist convention: the mask is the whole anatomical lung, opaque
or not). Used as training augmentation (:class:`RandChestFilmd`, recipe data
``augmentation.radiograph``) and, one kind at a time, as the robustness benchmark of
``benchmarks/neonatal_rds.py``.

Images are 2D arrays in [0, 1], brighter = denser (as radiomark reads every radiograph,
MONOCHROME1 inverted). Sizes are fractions of the image width, so the same corruption reads the
same on a 256² network input and on a 2048² film. The kinds:

``opacity``
    inside the lung mask: ground glass (a veil that keeps the vessels), consolidation with air
    bronchograms, diffuse bilateral haze (RDS is ground glass by definition), a pleural effusion
    blunting the costophrenic angle with a meniscus, lower-lobe collapse behind the heart.
``lines``
    tubes and lines (endotracheal, nasogastric, central lines: bright curves from the top edge)
    and ECG electrodes with their leads.
``portable``
    an AP portable film: collimation borders (never over the lungs), a small thorax on a large
    film, a tilted patient.
``low_contrast``
    an under-penetrated, low-contrast exposure with a vendor's processing: contrast squeezed,
    gamma, unsharp masking or local histogram equalisation, noise, and anti-scatter grid lines.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, get_args

import numpy as np
from monai.transforms import Randomizable
from scipy import ndimage

from radiomark.recipes.schema import CorruptionKind

KINDS: tuple[str, ...] = get_args(CorruptionKind)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """A smooth random field with mean 0 and standard deviation 1."""
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return (field - field.mean()) / (field.std() + 1e-9)


def _raise(image: np.ndarray, region: np.ndarray, amount: float | np.ndarray, blur: float) -> np.ndarray:
    """``image`` made denser (towards 1) by ``amount`` inside the soft-edged ``region``."""
    soft = ndimage.gaussian_filter(region.astype(float), blur) if blur > 0 else region.astype(float)
    return image + amount * soft * (1.0 - image)


def _curve(rng: np.random.Generator, shape: tuple[int, int], start: tuple[float, float], end: tuple[float, float],
           width: float) -> np.ndarray:
    """A quadratic Bezier curve from ``start`` to ``end`` (row, column) with a random bend, ``width`` px wide."""
    bend = (np.array(start) + np.array(end)) / 2 + rng.normal(0, shape[1] * 0.12, 2)
    t = np.linspace(0, 1, 4 * max(shape))[:, None]
    points = (1 - t) ** 2 * np.array(start) + 2 * (1 - t) * t * bend + t ** 2 * np.array(end)
    mask = np.zeros(shape, dtype=bool)
    inside = (points[:, 0] >= 0) & (points[:, 0] < shape[0]) & (points[:, 1] >= 0) & (points[:, 1] < shape[1])
    rows, columns = points[inside].astype(int).T
    mask[rows, columns] = True
    return ndimage.binary_dilation(mask, iterations=max(1, int(round(width / 2))))


def opacity(image: np.ndarray, lungs: np.ndarray, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A lung opacity of ``kind`` (ground_glass, consolidation, haze, effusion, collapse; random when
    None) drawn inside ``lungs`` (the mask of both lungs, row 0 at the top of the film)."""
    if not lungs.any():
        return image
    size = image.shape[1]
    kind = kind or str(rng.choice(["ground_glass", "consolidation", "haze", "effusion", "collapse"]))
    labelled, count = ndimage.label(lungs)
    sides = [labelled == k for k in range(1, count + 1)] or [lungs]
    side = sides[int(rng.integers(len(sides)))] if rng.random() < 0.6 else lungs
    if kind in ("ground_glass", "consolidation"):
        field = _smooth_field(rng, image.shape, size * rng.uniform(0.03, 0.08))
        region = side & (field > np.quantile(field[side], rng.uniform(0.3, 0.85)))
        amount = rng.uniform(0.25, 0.55) if kind == "ground_glass" else rng.uniform(0.55, 0.85)
        out = _raise(image, region, amount, size * 0.01)
        if kind == "consolidation":  # air bronchograms: dark branching lines inside
            for _ in range(int(rng.integers(1, 4))):
                points = np.argwhere(region)
                if len(points) < 2:
                    break
                start, end = points[rng.integers(len(points), size=2)]
                out = np.where(_curve(rng, image.shape, tuple(start), tuple(end), size * 0.006) & region,
                               out - rng.uniform(0.1, 0.3), out)
        return np.clip(out, 0, 1)
    if kind == "haze":  # diffuse, bilateral, a little denser at the bases
        height = np.linspace(0, 1, image.shape[0])[:, None] * np.ones(image.shape)
        veil = rng.uniform(0.25, 0.6) * (0.7 + 0.3 * height) * (1 + 0.15 * _smooth_field(rng, image.shape, size * 0.05))
        return np.clip(_raise(image, lungs, veil, size * 0.015), 0, 1)
    rows, columns = np.nonzero(side)
    top, bottom = rows.min(), rows.max()
    if kind == "effusion":  # fluid from the base up, the meniscus higher laterally
        centre = columns.mean()
        lateral = np.sign(centre - image.shape[1] / 2) or 1.0
        level = bottom - (bottom - top) * rng.uniform(0.1, 0.45)
        grid_rows, grid_columns = np.indices(image.shape)
        meniscus = level - lateral * (grid_columns - centre) * rng.uniform(0.2, 0.6)
        region = side & (grid_rows >= meniscus)
        return np.clip(_raise(image, region, rng.uniform(0.6, 0.9), size * 0.008), 0, 1)
    # collapse: a dense triangle at the medial base of one lung
    grid_rows, grid_columns = np.indices(image.shape)
    medial = columns.max() if columns.mean() < image.shape[1] / 2 else columns.min()
    height = (bottom - top) * rng.uniform(0.25, 0.5)
    spread = (grid_rows - (bottom - height)) / max(height, 1) * (columns.max() - columns.min()) * 0.5
    region = side & (grid_rows >= bottom - height) & (np.abs(grid_columns - medial) <= spread)
    return np.clip(_raise(image, region, rng.uniform(0.5, 0.8), size * 0.01), 0, 1)


def lines(image: np.ndarray, lungs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tubes and lines from the top edge, and ECG electrodes with their leads."""
    shape, size = image.shape, image.shape[1]
    out = image.copy()
    for _ in range(int(rng.integers(1, 4))):
        start = (0.0, size * rng.uniform(0.3, 0.7))
        end = (shape[0] * rng.uniform(0.3, 0.95), size * rng.uniform(0.2, 0.8))
        tube = _curve(rng, shape, start, end, size * rng.uniform(0.004, 0.012))
        out = np.where(tube, np.maximum(out, rng.uniform(0.7, 1.0)), out)
    for _ in range(int(rng.integers(0, 6))):
        centre = np.array([shape[0] * rng.uniform(0.05, 0.95), size * rng.uniform(0.05, 0.95)])
        radius = size * rng.uniform(0.012, 0.025)
        distance = np.hypot(*(np.indices(shape) - centre[:, None, None]))
        out = np.where(np.abs(distance - radius) < size * 0.004, 0.95, out)
        edge = (shape[0] * rng.uniform(0, 1), 0.0 if rng.random() < 0.5 else size - 1.0)
        out = np.where(_curve(rng, shape, tuple(centre), edge, size * 0.003), np.maximum(out, 0.8), out)
    return np.clip(out, 0, 1)


def portable(image: np.ndarray, lungs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Collimation borders outside the lungs, a small thorax on a large film and a tilt; returns the
    film and ``lungs`` moved with it (a mask or a label map, 0 outside; values move by nearest
    neighbour and keep their type)."""
    scale = rng.uniform(0.6, 0.95)
    angle = rng.uniform(-12, 12)
    centre = np.array(image.shape) / 2
    matrix = _rotation(angle) / scale
    offset = centre - matrix @ (centre + rng.normal(0, image.shape[1] * 0.04, 2))
    background = float(np.quantile(image, 0.02))
    film = ndimage.affine_transform(image, matrix, offset, order=1, cval=background)
    moved = ndimage.affine_transform(lungs.astype(np.uint8), matrix, offset, order=0, cval=0).astype(lungs.dtype)
    return collimate(film, moved > 0, rng), moved


def _rotation(degrees: float) -> np.ndarray:
    theta = np.deg2rad(degrees)
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def collimate(image: np.ndarray, lungs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Collimator borders (black or white) up to the lungs' bounding box, never over it."""
    rows, columns = np.nonzero(lungs) if lungs.any() else (np.array([image.shape[0] // 2]),
                                                          np.array([image.shape[1] // 2]))
    out = image.copy()
    value = 0.0 if rng.random() < 0.6 else 1.0
    top = int(rng.uniform(0, 1) * rows.min())
    bottom = int(rows.max() + rng.uniform(0, 1) * (image.shape[0] - rows.max()))
    left = int(rng.uniform(0, 1) * columns.min())
    right = int(columns.max() + rng.uniform(0, 1) * (image.shape[1] - columns.max()))
    out[:top], out[bottom + 1:], out[:, :left], out[:, right + 1:] = value, value, value, value
    return out


def low_contrast(image: np.ndarray, lungs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An under-penetrated, low-contrast film with a vendor's processing, noise and grid lines."""
    size = image.shape[1]
    middle = float(np.median(image))
    out = middle + rng.uniform(0.3, 0.65) * (image - middle) + rng.uniform(-0.1, 0.15)
    out = np.clip(out, 0, 1) ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.5:  # unsharp masking
        out = out + rng.uniform(0.3, 1.2) * (out - ndimage.gaussian_filter(out, size * rng.uniform(0.005, 0.02)))
    else:  # local histogram equalisation (CLAHE), as some vendors process
        from skimage.exposure import equalize_adapthist

        out = (1 - (w := rng.uniform(0.3, 0.8))) * np.clip(out, 0, 1) + w * equalize_adapthist(np.clip(out, 0, 1))
    grid = np.sin(2 * np.pi * np.arange(size) / rng.uniform(2.5, 6.0))
    out = out + rng.uniform(0.0, 0.03) * (grid[None, :] if rng.random() < 0.5 else grid[:size, None][: image.shape[0]])
    out = out + rng.normal(0, rng.uniform(0.005, 0.04), image.shape)
    return np.clip(out, 0, 1)


def corrupt(image: np.ndarray, lungs: np.ndarray, kind: str, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with one corruption ``kind`` (:data:`KINDS`), and ``lungs`` (a mask or a label map,
    0 outside) as they go with it: moved only by ``portable``."""
    if kind == "portable":
        return portable(image, lungs, rng)
    steps: dict[str, Callable[..., np.ndarray]] = {"opacity": opacity, "lines": lines, "low_contrast": low_contrast}
    if kind not in steps:
        raise ValueError(f"unknown corruption {kind!r}; kinds: {', '.join(KINDS)}")
    return steps[kind](image, lungs > 0, rng), lungs


class RandChestFilmd(Randomizable):
    """MONAI dictionary transform for training: each corruption kind with its probability
    (``probabilities``: kind -> p, from the recipe's ``augmentation.radiograph``), on ``image``
    ([1, H, W] in [0, 1]) with the lungs from ``label`` (one-hot [structures, H, W]); ``portable``
    moves the labels with the film. Deterministic under :meth:`set_random_state`, as MONAI seeds
    its randomisable transforms (the training loader does)."""

    def __init__(self, probabilities: Mapping[CorruptionKind, float], image_key: Hashable = "image",
                 label_key: Hashable = "label") -> None:
        unknown = set(probabilities) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown corruptions {sorted(unknown)}; kinds: {', '.join(KINDS)}")
        self.probabilities = dict(probabilities)
        self.image_key, self.label_key = image_key, label_key

    def randomize(self, data: Any = None) -> None:
        """Nothing to draw ahead: each call draws its own seed from ``self.R``."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        import torch

        self.randomize()
        out = dict(data)
        image = np.asarray(out[self.image_key], dtype=np.float32)[0]
        label = np.asarray(out[self.label_key], dtype=np.float32)
        rng = np.random.default_rng(self.R.randint(0, 2**31 - 1))
        changed = False
        for kind in KINDS:
            if kind in self.probabilities and rng.random() < self.probabilities[kind]:
                if kind == "portable":  # the one-hot channels as a label map (1, 2, ...), moved with the film
                    structures = np.where(label.max(axis=0) > 0.5, label.argmax(axis=0) + 1, 0).astype(np.uint8)
                    image, moved = portable(image, structures, np.random.default_rng(int(rng.integers(2**31))))
                    label = np.stack([moved == value for value in range(1, len(label) + 1)]).astype(np.float32)
                else:
                    image = corrupt(image, label.sum(axis=0) > 0.5, kind, rng)[0]
                changed = True
        if changed:
            out[self.image_key] = torch.as_tensor(image[None].astype(np.float32))
            out[self.label_key] = torch.as_tensor(label)
        return out
