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


def require_debian_packages(binaries: dict[str, str]) -> None:
    """Skip the test, naming the package, when one of the Debian ``binaries`` (path -> package) is
    missing. Tests never install anything: ``make test`` installs these packages where it can."""
    missing = sorted({package for binary, package in binaries.items() if not Path(binary).exists()})
    if missing:
        pytest.skip(f"Debian package(s) {', '.join(missing)} not installed (`make test` installs them with "
                    "apt-get when run as root; `apt-get install " + " ".join(missing) + "` by hand)")


def tiny_recipe(folder: Path, name: str = "sarcopenia") -> Path:
    """A bundled recipe shrunk for tests: 64² input, a two-level UNet, three epochs (and a 32²
    EfficientNet-b0 classifier, two epochs, where the recipe has one)."""
    import yaml

    from radiomark.recipes.registry import look_up

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
    import yaml

    from radiomark.recipes.registry import look_up

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
