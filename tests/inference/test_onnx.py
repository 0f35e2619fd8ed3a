"""ONNX export: ONNX Runtime reproduces PyTorch within 1e-4 and is used only where recorded faster."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from radiomark import api
from radiomark.errors import InputError
from radiomark.inference.predictor import Segmenter
from radiomark.io.nifti import read_nifti

pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the test extras")


def test_export_then_onnxruntime_matches_pytorch(tmp_path, tiny_sarcopenia):
    data, shared = tiny_sarcopenia
    run = shutil.copytree(shared, tmp_path / "run")  # the export writes into the run folder
    with pytest.raises(InputError, match="no ONNX export"):
        Segmenter.load(run, backend="onnxruntime")
    record = api.export(run, repeats=2)
    segmenter = record["segmenter"]
    assert (run / "fold_0" / "model.onnx").is_file() and segmenter["equal"]
    assert segmenter["max_abs_difference"] <= 1e-4
    image = read_nifti(next(data.glob("*/ct_l3.nii.gz")))
    by_torch, by_runtime = Segmenter.load(run, backend="torch"), Segmenter.load(run, backend="onnxruntime")
    assert (by_torch.backend, by_runtime.backend) == ("torch", "onnxruntime")
    np.testing.assert_allclose(by_runtime.probabilities(image), by_torch.probabilities(image), atol=1e-4)
    assert Segmenter.load(run).backend == segmenter["preferred"]  # auto follows the measurement
    stored = json.loads((run / "onnx.json").read_text())
    stored["segmenter"]["preferred"] = "torch"
    (run / "onnx.json").write_text(json.dumps(stored))
    assert Segmenter.load(run).backend == "torch"
