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


def ensure_debian_packages(binaries: dict[str, str]) -> None:
    """Make the Debian ``binaries`` (path -> package) available: install the missing packages with
    apt-get when the machine allows it (root), else skip the test with the reason."""
    import os
    import shutil
    import subprocess

    missing = sorted({package for binary, package in binaries.items() if not Path(binary).exists()})
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{', '.join(missing)} not installed and cannot be installed here (needs root and apt-get)")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"could not install {', '.join(missing)}: {' '.join(command)} failed: "
                        f"{done.stderr.strip()[-300:]}")


def tiny_recipe(folder: Path, name: str = "sarcopenia") -> Path:
    """A bundled recipe shrunk for tests: 64² input, a two-level UNet, three epochs (and a 32²
    EfficientNet-b0 classifier, two epochs, where the recipe has one)."""
    from radiomark.recipes.registry import look_up

    import yaml

    document = yaml.safe_load(look_up(name).yaml_text())
    document["preprocessing"]["spatial_size"] = [64, 64]
    document["network"] = {"name": "unet", "channels": [8, 16], "strides": [2], "num_res_units": 0}
    document["training"].update(epochs=3, batch_size=4, validation_fraction=0.25)
    if "classifier" in document:
        document["classifier"].update(spatial_size=[32, 32], epochs=2, batch_size=4, validation_fraction=0.25)
    path = folder / f"tiny-{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def tiny_phantoms(folder: Path, seeds: range, fmt: str = "nifti", size: int = 64) -> Path:
    """Small sarcopenia phantom cases (``size``² pixels) written under ``folder``."""
    from radiomark.phantoms import write_case
    from radiomark.recipes.sarcopenia.phantom import generate as sarcopenia_case

    for seed in seeds:
        write_case(sarcopenia_case(seed, size=size), folder, fmt)
    return folder


def edit_dicom(path: Path, **tags: object) -> None:
    """Set DICOM attributes of ``path`` by keyword in place; ``None`` deletes the attribute."""
    import pydicom

    dataset = pydicom.dcmread(path)
    for keyword, value in tags.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    dataset.save_as(path)


def tiny_volume_recipe(folder: Path, name: str = "nigra", **training: object) -> Path:
    """A bundled 3D recipe shrunk for tests: a planned three-level DynUNet of 8–32 filters, 16 × 32 × 32
    patches, two epochs, Dice + BCE (quicker to move than Dice alone)."""
    from radiomark.recipes.registry import look_up

    import yaml

    document = yaml.safe_load(look_up(name).yaml_text())
    document["preprocessing"]["patch_size"] = [16, 32, 32]
    document["network"] = {"name": "dynunet", "channels": [8, 16, 32], "strides": None}
    document["loss"]["lambda_bce"] = 1.0
    document["training"].update({"epochs": 2, "batch_size": 2, "validation_fraction": 0.25, **training})
    path = folder / f"tiny-{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def tiny_volume_run(folder: Path, name: str, cases: int, epochs: int) -> Path:
    """``folder/run``: :func:`tiny_volume_recipe` trained on phantoms of seeds 0 … cases-1 (NIfTI)."""
    from radiomark import api
    from radiomark.phantoms import generate_case, write_case

    for seed in range(cases):
        write_case(generate_case(name, seed), folder / "data", "nifti")
    api.train(str(tiny_volume_recipe(folder, name, epochs=epochs)), folder / "data", folder / "run")
    return folder / "run"
