"""The one image type every radiomark stage passes on: :class:`Image` and :class:`LabelMap`.

Conventions (the same for 2D and 3D):

* ``array`` is indexed ``[slice, row, column]`` for a volume and ``[row, column]`` for a single
  image (an X-ray, one CT slice). This is NumPy's ``(z, y, x)`` order, as SimpleITK's
  ``GetArrayFromImage`` returns it.
* ``spacing_mm[a]`` is the distance in millimetres between neighbouring samples along array
  axis ``a`` (so ``spacing_mm = (slice, row, column)`` spacing for a volume). ``None`` means the
  spacing is unknown (an uncalibrated X-ray); anything physical then raises
  :class:`~radiomark.errors.GeometryError` instead of silently counting pixels.
* ``origin_mm`` is the position of the centre of sample ``[0, 0(, 0)]`` in DICOM patient
  coordinates (LPS: +x towards the patient's left, +y posterior, +z superior).
* ``direction`` is a ``3 × ndim`` matrix whose column ``a`` is the LPS unit vector along which
  array axis ``a`` increases. A 2D image keeps its place in 3D space this way.

The position of sample ``index`` is ``origin_mm + direction @ (spacing_mm * index)``.
Conversions to other conventions (RAS, ``(x, y, z)`` axis order) live in :mod:`radiomark.io`
only. Objects are immutable: operations return new objects and arrays are read-only views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Self

import numpy as np

from radiomark.errors import GeometryError

#: Column directions used when an image carries no orientation: rows run along +y, columns
#: along +x and slices along +z, which is SimpleITK's identity direction.
_DEFAULT_DIRECTION = {2: np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]),
                      3: np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])}
_ORTHONORMAL_TOLERANCE = 1e-4


class Orientation(StrEnum):
    """Anatomical plane of an image, from the axis closest to its slice normal."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


def orientation_from_normal(normal: np.ndarray) -> Orientation:
    """Return the plane whose normal (LPS x, y, z) is closest to ``normal``."""
    planes = (Orientation.SAGITTAL, Orientation.CORONAL, Orientation.AXIAL)
    return planes[int(np.argmax(np.abs(normal)))]


@dataclass(frozen=True, eq=False)
class Image:
    """An intensity image with its geometry in DICOM LPS patient space (see module docstring).

    Attributes:
        array: pixel values, ``[slice, row, column]`` or ``[row, column]``; CT in HU.
        spacing_mm: sample distance per array axis in mm, or ``None`` when unknown.
        origin_mm: LPS position (mm) of the first sample's centre.
        direction: ``3 × ndim`` matrix, column ``a`` = LPS unit vector of array axis ``a``.
        metadata: read-only facts about the source (modality, UIDs, file path, ...).
    """

    array: np.ndarray
    spacing_mm: tuple[float, ...] | None
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # None stands for the default direction of the array's dimension; __post_init__ always stores a matrix.
    direction: np.ndarray = None  # type: ignore[assignment]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        array = np.asarray(self.array).view()
        if array.ndim not in (2, 3):
            raise GeometryError(None, f"an image must be 2D or 3D, got an array of shape {array.shape}")
        if array.size == 0:
            raise GeometryError(None, f"the image array is empty (shape {array.shape})")
        array.flags.writeable = False
        object.__setattr__(self, "array", array)
        if self.spacing_mm is not None:
            spacing = tuple(float(s) for s in self.spacing_mm)
            if len(spacing) != array.ndim or not all(np.isfinite(s) and s > 0 for s in spacing):
                raise GeometryError(
                    None, f"spacing_mm must hold {array.ndim} positive numbers, got {self.spacing_mm}")
            object.__setattr__(self, "spacing_mm", spacing)
        origin = tuple(float(o) for o in self.origin_mm)
        if len(origin) != 3 or not all(np.isfinite(origin)):
            raise GeometryError(None, f"origin_mm must hold 3 finite numbers (LPS), got {self.origin_mm}")
        object.__setattr__(self, "origin_mm", origin)
        direction = (_DEFAULT_DIRECTION[array.ndim] if self.direction is None
                     else np.asarray(self.direction, dtype=float))
        if direction.shape != (3, array.ndim):
            raise GeometryError(None, f"direction must be a 3×{array.ndim} matrix, got shape {direction.shape}")
        if not np.allclose(direction.T @ direction, np.eye(array.ndim), atol=_ORTHONORMAL_TOLERANCE):
            raise GeometryError(None, f"direction columns must be orthonormal, got {direction.tolist()}")
        direction = direction.copy()
        direction.flags.writeable = False
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def ndim(self) -> int:
        """2 for a single image, 3 for a volume."""
        return int(self.array.ndim)

    @property
    def shape(self) -> tuple[int, ...]:
        """Array shape, ``(slices, rows, columns)`` or ``(rows, columns)``."""
        return tuple(int(n) for n in self.array.shape)

    def require_spacing(self) -> tuple[float, ...]:
        """Return ``spacing_mm`` or raise :class:`GeometryError` when it is unknown."""
        if self.spacing_mm is None:
            source = self.metadata.get("source")
            raise GeometryError(source, "pixel spacing is unknown, so no physical size can be computed; "
                                        "give the spacing explicitly (e.g. --spacing 0.2)")
        return self.spacing_mm

    @property
    def sample_size(self) -> float:
        """Area (mm², 2D) or volume (mm³, 3D) of one sample; raises when spacing is unknown."""
        return float(np.prod(self.require_spacing()))

    @property
    def normal(self) -> np.ndarray:
        """LPS unit normal of the image plane (row direction × column direction)."""
        return np.cross(self.direction[:, -1], self.direction[:, -2])

    @property
    def orientation(self) -> Orientation:
        """Axial, coronal or sagittal, from the plane normal."""
        return orientation_from_normal(self.normal)

    def index_to_point(self, index: np.ndarray | tuple[float, ...]) -> np.ndarray:
        """LPS position in mm of (fractional) array index ``index`` (array axis order)."""
        spacing = np.asarray(self.require_spacing())
        return np.asarray(self.origin_mm) + self.direction @ (spacing * np.asarray(index, dtype=float))

    def as_volume(self, slice_spacing_mm: float | None = None) -> Self:
        """A 2D image as a one-slice volume whose slice axis is the plane normal.

        The slice spacing is ``slice_spacing_mm``, else ``metadata["slice_thickness_mm"]``, else
        1 mm (as SimpleITK does for a single DICOM slice). Volumes are returned unchanged.
        """
        if self.ndim == 3:
            return self
        thickness = slice_spacing_mm or self.metadata.get("slice_thickness_mm") or 1.0
        spacing = None if self.spacing_mm is None else (float(thickness), *self.spacing_mm)
        direction = np.column_stack([self.normal, self.direction])
        return replace(self, array=self.array[np.newaxis], spacing_mm=spacing, direction=direction)

    def take_slice(self, index: int) -> Self:
        """Slice ``index`` (along array axis 0) of a volume as a 2D image keeping its 3D place."""
        if self.ndim != 3:
            raise GeometryError(self.metadata.get("source"), "take_slice needs a volume, this image is 2D")
        if not -self.shape[0] <= index < self.shape[0]:
            raise GeometryError(self.metadata.get("source"),
                                f"slice {index} is outside the volume's {self.shape[0]} slices")
        index %= self.shape[0]
        origin = np.asarray(self.origin_mm)
        spacing = self.spacing_mm
        if spacing is not None:
            origin = origin + self.direction[:, 0] * spacing[0] * index
        metadata = dict(self.metadata)
        if spacing is not None:
            metadata.setdefault("slice_thickness_mm", spacing[0])
        return replace(self, array=self.array[index], origin_mm=tuple(origin),
                       spacing_mm=None if spacing is None else spacing[1:],
                       direction=self.direction[:, 1:], metadata=metadata)

    def geometry_equal(self, other: Image, atol: float = 1e-5) -> bool:
        """Whether both images share shape, spacing, origin and direction within ``atol``."""
        if self.shape != other.shape or (self.spacing_mm is None) != (other.spacing_mm is None):
            return False
        if (self.spacing_mm is not None and other.spacing_mm is not None
                and not np.allclose(self.spacing_mm, other.spacing_mm, rtol=0, atol=atol)):
            return False
        return bool(np.allclose(self.origin_mm, other.origin_mm, rtol=0, atol=atol)
                    and np.allclose(self.direction, other.direction, rtol=0, atol=atol))


@dataclass(frozen=True, eq=False)
class LabelMap(Image):
    """A segmentation on an image grid: non-negative integer labels, 0 = background.

    The array is stored as ``uint8`` (``uint16`` beyond 255 labels), never as float; resampling a
    label map is always nearest-neighbour. ``labels`` maps label values to structure names.
    """

    labels: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if not np.issubdtype(array.dtype, np.integer) and array.dtype != np.bool_:
            raise GeometryError(None, f"a label map needs integer labels, got dtype {array.dtype}")
        if array.size and array.min() < 0:
            raise GeometryError(None, f"label values must be >= 0, found {array.min()}")
        top = int(array.max()) if array.size else 0
        dtype = np.uint8 if top <= np.iinfo(np.uint8).max else np.uint16
        if top > np.iinfo(np.uint16).max:
            raise GeometryError(None, f"label value {top} does not fit in uint16")
        object.__setattr__(self, "array", array.astype(dtype, copy=False))
        object.__setattr__(self, "labels", MappingProxyType({int(k): str(v) for k, v in self.labels.items()}))
        super().__post_init__()

    @classmethod
    def like(cls, image: Image, array: np.ndarray, labels: Mapping[int, str]) -> LabelMap:
        """A label map on ``image``'s grid."""
        if np.shape(array) != image.shape:
            raise GeometryError(None, f"label array shape {np.shape(array)} differs from the image grid {image.shape}")
        return cls(array=array, spacing_mm=image.spacing_mm, origin_mm=image.origin_mm,
                   direction=image.direction, metadata=image.metadata, labels=labels)

    def mask(self, name_or_value: str | int) -> np.ndarray:
        """Boolean mask of one structure, by name or label value."""
        if isinstance(name_or_value, str):
            values = [v for v, n in self.labels.items() if n == name_or_value]
            if not values:
                raise GeometryError(None, f"no label named {name_or_value!r}; labels are {dict(self.labels)}")
            return self.array == values[0]
        return self.array == name_or_value
