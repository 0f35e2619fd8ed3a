"""Write outputs under a temporary name and rename them into place, so a failure leaves none.

Folders created on the way are removed again when the write fails and they are still empty.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _temporary_sibling(path: Path) -> Path:
    # The temporary name keeps the real suffix (nibabel picks the format from it) and starts
    # with a dot so that folder scans and viewers skip it.
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


@contextmanager
def _parents_of(target: Path) -> Iterator[None]:
    """Create ``target``'s missing parent folders; remove those still empty if the block fails."""
    created = [p for p in reversed(target.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                break
        raise


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    target = Path(path)
    with _parents_of(target):
        temporary = _temporary_sibling(target)
        try:
            yield temporary
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)


@contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only if the block succeeds."""
    target = Path(path)
    with _parents_of(target):
        temporary = _temporary_sibling(target)
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        try:
            yield temporary
            if target.exists():
                shutil.rmtree(target)
            os.replace(temporary, target)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
