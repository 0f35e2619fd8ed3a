"""Which cases a folder becomes: one study, a folder per study, studies mixed as loose files in one
folder, and a PACS export (DICOMDIR beside numbered series folders)."""

from __future__ import annotations

import shutil

import numpy as np
from pydicom.fileset import FileSet

from radiomark.image import Image
from radiomark.io.dicom_write import DicomSeriesSpec, write_dicom_series
from radiomark.phantoms.case import make_study
from radiomark.pipeline.batch import case_ids, discover_studies

VOLUME = Image(np.zeros((4, 16, 16), np.int16), (3.0, 1.0, 1.0), metadata={"modality": "CT"})


def _study(folder, name, series=2):
    study = make_study(name)
    for number in range(1, series + 1):
        write_dicom_series(VOLUME, folder / f"{name}-{number}", study,
                           DicomSeriesSpec("CT", f"series {number}", number, intercept=-1024.0), f"{name}/{number}")
    return study


def test_one_folder_per_study_gives_one_case_each(tmp_path):
    for name in ("anna", "bert"):
        _study(tmp_path / name, name)
    studies = discover_studies(tmp_path)
    assert [s.path.name for s in studies] == ["anna", "bert"]
    assert [len(s.series or ()) for s in studies] == [2, 2]


def test_studies_mixed_as_loose_files_become_one_case_per_study(tmp_path):
    made = tmp_path / "made"
    uids = {_study(made, name).study_uid for name in ("anna", "bert")}
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for index, file in enumerate(sorted(made.rglob("*.dcm"))):
        shutil.copy(file, mixed / f"{index:04d}")  # PACS exports often drop names and suffixes
    studies = discover_studies(mixed)
    assert len(studies) == 2 and {s.series[0].study_uid for s in studies} == uids
    assert all(len(s.series) == 2 and all(series.n_slices == 4 for series in s.series) for s in studies)
    names = case_ids(studies)
    assert len(set(names)) == 2 and all(name.startswith("PHANTOM-") for name in names)


def test_a_dicomdir_export_with_numbered_folders(tmp_path):
    made = tmp_path / "made"
    uids = {_study(made, name, series=1).study_uid for name in ("anna", "bert")}
    export = tmp_path / "export"
    file_set = FileSet()
    for file in sorted(made.rglob("*.dcm")):
        file_set.add(str(file))
    file_set.write(export)  # DICOMDIR + DICOM/PT000000/ST000000/SE000000/IM000000 ...
    assert (export / "DICOMDIR").is_file()
    studies = discover_studies(export)
    assert {s.series[0].study_uid for s in studies} == uids and len(studies) == 2
