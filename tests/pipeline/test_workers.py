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


def test_a_dask_cluster_gives_what_one_process_gives(tmp_path, tiny_sarcopenia):
    """One task per study on a Dask cluster started here (two worker processes on 127.0.0.1),
    then on a local cluster radiomark starts itself."""
    distributed = pytest.importorskip("distributed", reason="Dask is in the test extras")
    _, model = tiny_sarcopenia
    cohort = tiny_phantoms(tmp_path / "cohort", range(310, 314), fmt="dicom")
    broken = cohort / "sarcopenia-0311" / "dicom" / "ct_l3" / "IM0001.dcm"
    broken.write_bytes(broken.read_bytes()[:2000])
    one = api.run("sarcopenia", cohort, tmp_path / "one", model=model, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        on_cluster = api.run("sarcopenia", cohort, tmp_path / "dask", model=model, engine="dask",
                             cluster=cluster.scheduler_address)
    assert [r.case_id for r in on_cluster.results] == [r.case_id for r in one.results]
    assert _table(tmp_path / "dask" / "cohort.csv") == _table(tmp_path / "one" / "cohort.csv")
    assert [f.error for f in on_cluster.failures] == ["DicomError"]
    assert _table(tmp_path / "dask" / "failures.csv") == _table(tmp_path / "one" / "failures.csv")
    started = api.run("sarcopenia", cohort, tmp_path / "own", model=model, engine="dask", workers=2)
    assert _table(tmp_path / "own" / "cohort.csv") == _table(tmp_path / "one" / "cohort.csv")
    assert len(started.failures) == 1


def test_engine_and_cluster_are_checked_first(tmp_path):
    with pytest.raises(InputError, match="unknown --engine 'ray'"):
        api.run("sarcopenia", tmp_path, tmp_path / "out", engine="ray")
    with pytest.raises(InputError, match="--cluster is the address of a Dask scheduler"):
        api.run("sarcopenia", tmp_path, tmp_path / "out", cluster="tcp://127.0.0.1:1")
