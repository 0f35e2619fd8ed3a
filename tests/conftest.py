"""Fixtures shared across test modules: tiny models trained once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from radiomark import api
from tests.helpers import tiny_phantoms, tiny_recipe

#: The real-PACS fixture (``orthanc``) for every test that asks for it.
pytest_plugins = ["tests.io.orthanc"]

# Cohorts run in one process unless a test asks for workers: tests patch the run path in-process,
# and a spawned worker per cohort test would cost seconds each.
os.environ.setdefault("RADIOMARK_WORKERS", "1")


@pytest.fixture(scope="session")
def tiny_sarcopenia(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data, run folder): 6 tiny sarcopenia phantoms (NIfTI) and a tiny model trained 1 epoch on
    them. Shared: tests must not change either (copy the run folder to export or tune it)."""
    folder = tmp_path_factory.mktemp("tiny-sarcopenia")
    data = tiny_phantoms(folder / "data", range(6))
    api.train(str(tiny_recipe(folder)), data, folder / "run", epochs=1)
    return data, folder / "run"
