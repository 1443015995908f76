"""Two processes on one run folder: the second exits 2 at once, naming the folder and the holder; a lock file left
by a process that died does not stop the next start."""

from __future__ import annotations

import fcntl
import os
import stat

import pytest

from conftest import run_cli

from contrastlab.app.folder_lock import LOCK, hold


def _args(run_dir):
    return ["model=tiny", "objective=dpo", "logger=none", "train.max_steps=1", "data.max_eval=4",
            f"hydra.run.dir={run_dir}"]  # fmt: skip


def test_a_second_process_on_a_held_folder_exits_2_naming_the_holder(tmp_path):
    run_dir = tmp_path / "run"
    with hold(run_dir):  # this test process is the first run
        second = run_cli(_args(run_dir))
    assert second.returncode == 2, second.stderr[-2000:]
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and str(run_dir) in lines[0] and f"process {os.getpid()}" in lines[0], second.stderr
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "checkpoints").exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A run started in a folder whose lock file was left by a process that died."""
    run_dir = tmp_path_factory.mktemp("lock") / "run"
    run_dir.mkdir()
    (run_dir / LOCK).write_text("999999\n")  # its holder is gone: the kernel holds no lock on it
    return run_dir, run_cli(_args(run_dir))


def test_a_lock_file_left_by_a_dead_process_is_not_stale(finished):
    run_dir, first = finished
    assert first.returncode == 0, first.stderr[-2000:]
    assert (run_dir / "metrics.json").is_file()
    fd = os.open(run_dir / LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released at the run's exit
    finally:
        os.close(fd)


def test_the_run_folder_has_the_users_file_modes_and_no_empty_leftovers(finished):
    """metrics.json and model.safetensors were written 0600 (a temp file, safetensors); an empty run.log and an
    empty checkpoints/ were left in every run folder."""
    run_dir, first = finished
    assert first.returncode == 0, first.stderr[-2000:]
    mask = os.umask(0)
    os.umask(mask)
    for path in (run_dir / "metrics.json", run_dir / "log.jsonl", run_dir / "model" / "model.safetensors"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path
    assert not (run_dir / "run.log").exists() and not (run_dir / "checkpoints").exists()
