"""Matplotlib figures drawn off-screen and saved as PNG atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from radiomark.io.atomic import atomic_file


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the off-screen Agg backend (no display is needed), with mathtext
    off: titles and labels hold names from inputs (study folders, descriptions), which are shown
    literally — ``$...$`` in a name is not a formula."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def save_png(figure: Any, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Save ``figure`` to ``path`` (written under a temporary name, then renamed) and close it."""
    figure.tight_layout()
    with atomic_file(path) as temporary:
        figure.savefig(temporary, dpi=dpi, format="png")
    pyplot().close(figure)
    return Path(path)
