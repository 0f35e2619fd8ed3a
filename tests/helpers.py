"""Test helpers: real data locations (skipped when absent) and pydicom's test files."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(relative: str) -> Path:
    """Path under ../shared/data; skips the test with a reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path} (the repository expects ../shared/data beside it)")
    return path


def pydicom_file(name: str) -> Path:
    """A DICOM test file shipped by pydicom or the pydicom-data package (never downloaded)."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name, download=False)
    if found is None:
        pytest.skip(f"pydicom test file {name} is not installed (pip install pydicom-data)")
    return Path(found)
