"""JSRT import: real radiographs and expert masks into the case layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from radiomark.io.nifti import read_nifti
from radiomark.recipes import load_recipe
from radiomark.recipes.neonatal_rds.dataset import PIXEL_MM, import_jsrt
from radiomark.training.data import load_cases
from tests.helpers import shared_data


def test_import_jsrt_keeps_sides_and_pixel_size(tmp_path: Path) -> None:
    source = shared_data("cxr-jsrt")
    folders = import_jsrt(source, tmp_path, limit=2)
    assert [f.name for f in folders] == ["JPCLN001", "JPCLN002"]
    image = read_nifti(folders[0] / "image.nii.gz")
    labels = read_nifti(folders[0] / "labels.nii.gz", labels={1: "right_lung", 2: "left_lung"})
    assert image.spacing_mm == pytest.approx((PIXEL_MM, PIXEL_MM)) and PIXEL_MM == pytest.approx(0.7)
    columns = np.arange(image.shape[1])
    right = columns[np.nonzero(labels.array == 1)[1]].mean()
    left = columns[np.nonzero(labels.array == 2)[1]].mean()
    assert right < image.shape[1] / 2 < left  # the patient's right lung is on the image's left
    masks = np.asarray(PILImage.open(source / "masks" / "left_lung" / "JPCLN001.png"))
    assert np.count_nonzero(labels.array == 2) == np.count_nonzero(masks > 127)
    assert json.loads((folders[0] / "case.json").read_text())["patient_id"] == "JPCLN001"
    cases = load_cases(tmp_path, load_recipe("neonatal-rds"))
    assert [c.patient_id for c in cases] == ["JPCLN001", "JPCLN002"]
