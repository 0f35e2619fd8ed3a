"""radiomark: medical images in, quantitative imaging biomarkers and decisions out."""

from radiomark.errors import DicomError, GeometryError, InputError, MissingDependencyError, RadiomarkError, RecipeError
from radiomark.image import Image, LabelMap, Orientation

__version__ = "0.1.0"

__all__ = ["DicomError", "GeometryError", "Image", "InputError", "LabelMap", "MissingDependencyError",
           "Orientation", "RadiomarkError", "RecipeError", "__version__"]
