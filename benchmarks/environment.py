"""Machine, library versions and git commit recorded with every benchmark result."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(packages: tuple[str, ...] = ("radiomark", "torch", "monai", "numpy", "SimpleITK", "pydicom")) -> dict:
    """What the results were measured on."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"cpu_model": _cpu_model(), "cpu_cores": os.cpu_count(), "torch_threads": _torch_threads(),
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions,
            "git_commit": commit}


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def machine_line(env: dict) -> str:
    """One markdown line saying what the results were measured on."""
    return (f"Machine: {env['cpu_model']}, {env['cpu_cores']} cores (torch threads {env['torch_threads']}); "
            f"radiomark {env['versions']['radiomark']}, torch {env['versions']['torch']}, "
            f"MONAI {env['versions']['monai']}; commit {env['git_commit'][:10]}.")
