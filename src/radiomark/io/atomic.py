"""Write outputs under a temporary name and rename them into place, so a failure leaves none.

Folders created on the way are removed again when the write fails and they are still empty. A
process killed mid-write (``kill -9``) leaves only a hidden ``.tmp-<pid>-…`` entry, which
:func:`remove_stale_temporaries` clears on the next run; a folder being replaced is first renamed
aside, so it is never missing while its successor is not in place.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TEMPORARY = re.compile(r"^\.(?:tmp|old)-(\d+)-")


def _temporary_sibling(path: Path, kind: str = "tmp") -> Path:
    # The temporary name keeps the real suffix (nibabel picks the format from it) and starts
    # with a dot so that folder scans and viewers skip it.
    return path.with_name(f".{kind}-{os.getpid()}-{path.name}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary entries in ``folder`` left by radiomark processes that no longer run
    (killed mid-write); returns what was removed."""
    removed = []
    for entry in folder.iterdir() if folder.is_dir() else ():
        found = _TEMPORARY.match(entry.name)
        if found and int(found.group(1)) != os.getpid() and not _running(int(found.group(1))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


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
            aside = _temporary_sibling(target, "old")
            if target.exists():
                os.replace(target, aside)
            os.replace(temporary, target)
            shutil.rmtree(aside, ignore_errors=True)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
