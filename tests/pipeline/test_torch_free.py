"""Inference without torch: every recipe with a bundled ONNX model runs with neither torch nor
MONAI imported, and gives the same labels as the same model on PyTorch (``--backend torch``)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from radiomark import api
from radiomark.io import read_image
from radiomark.phantoms import generate_case, write_case
from tests.helpers import shared_data

pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the test extras")

#: Runs the CLI in a fresh interpreter and prints which heavy modules it imported.
PROBE = """
import json, sys
from radiomark.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    print("MODULES " + json.dumps(sorted(m for m in ("torch", "monai", "matplotlib") if m in sys.modules)))
"""


def _phantom(recipe: str, tmp_path):
    return write_case(generate_case(recipe, 777), tmp_path / "in", "dicom")


def _labels(out):
    (case,) = [p for p in out.iterdir() if (p / "measurements.json").is_file()]
    (path,) = [p for p in case.iterdir() if p.name.startswith("labels.")]
    return np.asarray(read_image(path).array), json.loads((case / "measurements.json").read_text())


@pytest.mark.parametrize("recipe", ["sarcopenia", "neonatal-rds", "nigra", "brain-gwr", "nigra-nm"])
def test_bundled_onnx_models_run_without_torch_and_match_pytorch(tmp_path, recipe):
    sr = recipe != "nigra-nm"  # DICOM SEG and SR (highdicom) for DICOM inputs
    if recipe == "nigra-nm":  # the NM-only variant: a real single-contrast NM-MRI (NIfTI)
        study = shared_data("mri-neuromelanin-kcl/nifti_sub-001_anat_sub-001_NM.nii.gz")
        recipe = "nigra"
    else:
        study = _phantom(recipe, tmp_path)
    probe = subprocess.run([sys.executable, "-c", PROBE, "run", recipe, str(study), "--out", str(tmp_path / "onnx"),
                            *(["--dicom-sr"] if sr else [])], capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stdout[-2000:] + probe.stderr[-2000:]
    imported = json.loads(probe.stdout.rsplit("MODULES ", 1)[1])
    assert imported == [], f"imported {imported}"
    api.run(recipe, study, tmp_path / "torch", backend="torch", dicom_sr=sr)
    (onnx_labels, onnx_record), (torch_labels, torch_record) = _labels(tmp_path / "onnx"), _labels(tmp_path / "torch")
    assert onnx_labels.any()
    assert np.count_nonzero(onnx_labels != torch_labels) <= 1e-4 * onnx_labels.size  # equal but for p ≈ 0.5 ties
    assert onnx_record["model"] == torch_record["model"]


def test_backend_is_checked_before_anything_loads(tmp_path):
    from radiomark.errors import InputError

    with pytest.raises(InputError, match="unknown --backend 'tensorflow'"):
        api.run("sarcopenia", tmp_path, tmp_path / "out", backend="tensorflow")
