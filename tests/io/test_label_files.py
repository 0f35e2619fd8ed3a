"""Label maps made elsewhere: Slice-O-Matic TAG files (written here from phantom label maps, and
byte by byte as the format is documented), DICOM SEG and NIfTI, with a value mapping; for
`measure`, `train` and `evaluate` data folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from radiomark import api
from radiomark.cli import app
from radiomark.errors import InputError
from radiomark.io.label_files import parse_label_mapping, read_labels, read_tag, write_tag
from radiomark.io.nifti import read_nifti
from radiomark.io.study import read_study
from radiomark.recipes import load_recipe
from radiomark.training.data import load_cases

ALBERTA = "1=skeletal_muscle,5=visceral_fat,7=subcutaneous_fat"
#: recipe value → Alberta protocol tag value (muscle 1, visceral fat 5, subcutaneous fat 7)
TO_ALBERTA = np.array([0, 1, 7, 5], dtype=np.uint8)


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("sarcopenia")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A DICOM phantom L3 slice (dicom/) with its labels.nii.gz."""
    (folder,) = api.make_phantoms("sarcopenia", tmp_path_factory.mktemp("phantom"), cases=1, fmt="dicom")
    return folder


def test_the_documented_byte_layout_is_read():
    """Header fields separated by any white space, comments, a form feed, then bytes row by row."""
    header = b"x:3\ty:2   z:1\r\ninc_x:0.8 inc_y:0.8 epais:3\n*comment:any_text type:BYTE\n"
    raw = header + b"\x0c" + bytes([0, 1, 7, 5, 5, 0])
    fields, array = read_tag_bytes(raw)
    assert fields["inc_x"] == "0.8" and fields["type"] == "BYTE"
    assert array.tolist() == [[0, 1, 7], [5, 5, 0]]


def read_tag_bytes(raw, tmp=None):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "slice.dcm.tag"
        path.write_bytes(raw)
        return read_tag(path)


@pytest.mark.parametrize(("raw", "message"), [
    (b"x:2 y:2 z:1 no form feed" + bytes(4), "form feed"),
    (b"x:2 y:2 z:1\x0c" + bytes(3), "needs 4"),
    (b"x:two y:2\x0c" + bytes(4), "non-integer"),
])
def test_broken_tag_files_are_refused(raw, message):
    with pytest.raises(InputError, match=message):
        read_tag_bytes(raw)


def test_a_tag_file_of_a_phantom_maps_to_the_recipe_and_measures_the_same(tmp_path, case, recipe):
    image = read_study(case, recipe).image
    truth = np.asarray(read_nifti(case / "labels.nii.gz").array)
    tag = write_tag(TO_ALBERTA[truth], tmp_path / "slice.dcm.tag", image.spacing_mm)
    labels = read_labels(tag, image, recipe.labels, ALBERTA)
    np.testing.assert_array_equal(labels.array, truth)
    with pytest.raises(InputError, match="--labels"):  # Alberta values are not the recipe's
        read_labels(tag, image, recipe.labels)
    with pytest.raises(InputError, match="pixels"):  # drawn on another image size
        read_labels(write_tag(np.zeros((4, 4), np.uint8), tmp_path / "small.tag"), image, recipe.labels)
    given = runner_measure(tmp_path / "from-nifti", case, case / "labels.nii.gz")
    from_tag = runner_measure(tmp_path / "from-tag", case, tag, "--labels", ALBERTA)
    assert given == from_tag


def runner_measure(out, case, mask, *options):
    result = CliRunner().invoke(app, ["measure", "sarcopenia", str(case / "dicom"), str(mask), "--out", str(out),
                                      *options])
    assert result.exit_code == 0, result.output
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    document = json.loads((folder / "measurements.json").read_text())
    return {m["name"]: m["value"] for m in document["measurements"]}


def test_bad_mappings_are_refused(recipe):
    assert parse_label_mapping(ALBERTA, recipe.labels) == {1: 1, 5: 3, 7: 2}
    for text in ("1=muscle", "x=skeletal_muscle", "1:skeletal_muscle"):
        with pytest.raises(InputError, match="VALUE=NAME"):
            parse_label_mapping(text, recipe.labels)


def test_a_dicom_seg_is_read_back_by_segment_label(tmp_path, case, recipe):
    from radiomark.outputs.seg import write_dicom_seg

    image = read_study(case, recipe).image
    truth = read_nifti(case / "labels.nii.gz", labels=recipe.labels)
    from radiomark.image import LabelMap

    seg = write_dicom_seg(LabelMap.like(image, np.asarray(truth.array), recipe.labels), tmp_path / "seg.dcm",
                          recipe.label_codes, algorithm="test")
    np.testing.assert_array_equal(read_labels(seg, image, recipe.labels).array, truth.array)


def test_training_data_with_tag_files_beside_the_dicom_slices(tmp_path, case, recipe):
    import shutil

    folder = tmp_path / "data" / "patient-1"
    shutil.copytree(case / "dicom", folder)
    (slice_file,) = [p for p in folder.rglob("*") if p.is_file()]
    truth = np.asarray(read_nifti(case / "labels.nii.gz").array)
    write_tag(TO_ALBERTA[truth], slice_file.with_name(slice_file.name + ".tag"))
    (loaded,) = load_cases(tmp_path / "data", recipe, ALBERTA)
    np.testing.assert_array_equal(loaded.labels.array, truth)
    write_tag(TO_ALBERTA[truth], slice_file.with_name("second.tag"))
    with pytest.raises(InputError, match="2 .tag files"):
        load_cases(tmp_path / "data", recipe, ALBERTA)
