"""Process faults during a run: kill -9, Ctrl-C, a full disk, a read-only folder, an output folder
inside the input, two runs into one folder. Nothing half-written stays, nothing finished is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radiomark.cli import app
from radiomark.pipeline.batch import run_lock
from tests.helpers import tiny_phantoms

RADIOMARK = Path(sys.executable).parent / "radiomark"
CASE_FILES = ("labels.nii.gz", "measurements.json", "measurements.csv", "overlay.png", "report.html")
runner = CliRunner()


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in CASE_FILES)


def _cases(out: Path) -> list[Path]:
    return [entry for entry in out.iterdir() if entry.is_dir() and not entry.name.startswith(".")] \
        if out.is_dir() else []


def _start(cohort: Path, out: Path, model: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(RADIOMARK), "run", "sarcopenia", str(cohort), "--model", str(model), "--out",
                             str(out), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _when_first_case_is_written(process: subprocess.Popen[str], out: Path, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while not any(_complete(case) for case in _cases(out)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run wrote no case in time"
        time.sleep(0.01)


def _running_cohort(folder: Path, model: Path, first_seed: int) -> tuple[subprocess.Popen[str], Path, Path]:
    """A run over 24 studies, once its first case is written: (process, cohort, out)."""
    cohort = tiny_phantoms(folder / "cohort", range(first_seed, first_seed + 24))
    out = folder / "out"
    process = _start(cohort, out, model)
    _when_first_case_is_written(process, out)
    return process, cohort, out


def test_kill_9_leaves_only_whole_cases_and_resume_finishes_the_run(tmp_path, tiny_sarcopenia):
    process, cohort, out = _running_cohort(tmp_path, tiny_sarcopenia[1], 600)
    process.kill()
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    cases = _cases(out)
    assert 0 < len(cases) < 24 and all(_complete(case) for case in cases)  # whole cases only
    resumed = _start(cohort, out, tiny_sarcopenia[1], "--resume")
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr
    assert len(_cases(out)) == 24 and all(_complete(case) for case in _cases(out))
    assert f"{len(cases)} already done" in stdout
    assert not [entry.name for entry in out.iterdir() if entry.name.startswith((".tmp-", ".old-"))]


def test_ctrl_c_stops_cleanly_and_keeps_and_lists_what_finished(tmp_path, tiny_sarcopenia):
    process, _, out = _running_cohort(tmp_path, tiny_sarcopenia[1], 700)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert "interrupted:" in stderr and "--resume" in stderr
    cases = _cases(out)
    assert cases and all(_complete(case) for case in cases)
    with open(out / "cohort.csv") as stream:
        assert len(stream.read().splitlines()) == len(cases) + 1  # every finished case is listed


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A small tmpfs mounted on ``folder`` (needs root and mount); skips the test otherwise."""
    folder.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (a full disk / read-only folder is simulated that way)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_is_one_line_and_leaves_no_case(tmp_path, tiny_sarcopenia):
    data, model = tiny_sarcopenia
    with _tmpfs(tmp_path / "small", "size=64k") as small:
        (small / "filler").write_bytes(b"\0" * 40_000)
        result = runner.invoke(app, ["run", "sarcopenia", str(data / "sarcopenia-0000" / "ct_l3.nii.gz"),
                                     "--model", str(model), "--out", str(small / "out")])
        assert result.exit_code == 2 and "No space left on device" in result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
        assert not _cases(small / "out") and not [p for p in small.rglob(".tmp-*")]


def test_a_read_only_output_folder_is_one_line(tmp_path, tiny_sarcopenia):
    data, model = tiny_sarcopenia
    with _tmpfs(tmp_path / "readonly", "ro,size=64k") as readonly:
        result = runner.invoke(app, ["run", "sarcopenia", str(data / "sarcopenia-0000" / "ct_l3.nii.gz"),
                                     "--model", str(model), "--out", str(readonly / "out")])
        assert result.exit_code == 2 and "Read-only file system" in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_an_output_folder_inside_the_input_is_refused(tmp_path, tiny_sarcopenia):
    _, model = tiny_sarcopenia
    cohort = tiny_phantoms(tmp_path / "cohort", range(800, 802))
    result = runner.invoke(app, ["run", "sarcopenia", str(cohort), "--model", str(model), "--out",
                                 str(cohort / "sarcopenia-0800" / "out")])
    assert result.exit_code == 2 and "inputs are never written to" in result.output
    assert not (cohort / "sarcopenia-0800" / "out").exists()


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(tmp_path, tiny_sarcopenia):
    data, model = tiny_sarcopenia
    out = tmp_path / "out"
    with run_lock(out):
        result = runner.invoke(app, ["run", "sarcopenia", str(data / "sarcopenia-0000" / "ct_l3.nii.gz"),
                                     "--model", str(model), "--out", str(out)])
        assert result.exit_code == 2 and "another radiomark run is writing into this folder" in result.output
    assert not _cases(out)
    again = runner.invoke(app, ["run", "sarcopenia", str(data / "sarcopenia-0000" / "ct_l3.nii.gz"),
                                "--model", str(model), "--out", str(out)])
    assert again.exit_code == 0, again.output  # the lock is gone with its holder
