"""A cohort in worker processes: the same outputs, order, failures and resume as one process."""

from __future__ import annotations

import csv

import pytest

from radiomark import api
from radiomark.errors import InputError
from tests.helpers import tiny_phantoms


def _table(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_two_workers_give_what_one_process_gives(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    cohort = tiny_phantoms(tmp_path / "cohort", range(300, 305), fmt="dicom")
    broken = cohort / "sarcopenia-0302" / "dicom" / "ct_l3" / "IM0001.dcm"
    broken.write_bytes(broken.read_bytes()[:2000])
    seen = []
    one = api.run("sarcopenia", cohort, tmp_path / "one", model=model, workers=1, dicom_sr=True)
    two = api.run("sarcopenia", cohort, tmp_path / "two", model=model, workers=2, dicom_sr=True,
                  progress=lambda done, total: seen.append((done, total)))
    assert [r.case_id for r in two.results] == [r.case_id for r in one.results] == [
        "sarcopenia-0300", "sarcopenia-0301", "sarcopenia-0303", "sarcopenia-0304"]
    assert _table(tmp_path / "two" / "cohort.csv") == _table(tmp_path / "one" / "cohort.csv")
    assert [(f.error, f.study) for f in two.failures] == [(f.error, f.study) for f in one.failures]
    assert [f.error for f in two.failures] == ["DicomError"]
    assert (tmp_path / "two" / "sarcopenia-0300" / "sr.dcm").is_file()
    assert seen[-1] == (5, 5) and sorted(seen) == seen
    again = api.run("sarcopenia", cohort, tmp_path / "two", model=model, workers=2, resume=True)
    assert len(again.resumed) == 4 and [f.error for f in again.failures] == ["DicomError"]
    assert _table(tmp_path / "two" / "cohort.csv") == _table(tmp_path / "one" / "cohort.csv")


def test_workers_must_be_positive(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="--workers must be at least 1"):
        api.run("sarcopenia", tmp_path, tmp_path / "out", workers=0)
    monkeypatch.setenv("RADIOMARK_WORKERS", "two")
    from radiomark.pipeline.batch import default_workers

    with pytest.raises(InputError, match="RADIOMARK_WORKERS must be a positive whole number"):
        default_workers()
