"""radiomark: medical images in, quantitative imaging biomarkers and decisions out.

The Python API mirrors the command line (see docs/python-api.md)::

    import radiomark
    batch = radiomark.run("sarcopenia", "study/", "out/", sex="M", height_m=1.75, weight_kg=80)
    case = batch.results[0]
    case.measurements["skeletal_muscle_index"].value, case.finding, case.labels, case.to_frame()

``run``, ``measure``, ``train``, ``evaluate``, ``reproduce``, ``export``, ``info``, ``convert`` and
``make_phantoms`` are those of
:mod:`radiomark.api`, loaded on first use (``import radiomark`` stays light); they raise the
same :class:`RadiomarkError` family the command line reports, and print nothing.
"""

from typing import Any

from radiomark.errors import DicomError, GeometryError, InputError, MissingDependencyError, RadiomarkError, RecipeError
from radiomark.image import Image, LabelMap, Orientation

__version__ = "0.1.0"

_API = ("run", "measure", "train", "evaluate", "export", "info", "convert", "make_phantoms", "reproduce")

__all__ = ["DicomError", "GeometryError", "Image", "InputError", "LabelMap", "MissingDependencyError",
           "Orientation", "RadiomarkError", "RecipeError", "__version__", *_API]


def __getattr__(name: str) -> Any:
    """``radiomark.run`` and the other entry points of :mod:`radiomark.api`, imported when first used."""
    if name in _API:
        from radiomark import api

        return getattr(api, name)
    raise AttributeError(f"module 'radiomark' has no attribute {name!r}")
