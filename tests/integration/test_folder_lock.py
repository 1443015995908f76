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
    with hold(run_dir) as claim:  # this test process is the first run
        claim()
        second = run_cli(_args(run_dir))
    assert second.returncode == 2, second.stderr[-2000:]
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and str(run_dir) in lines[0] and f"process {os.getpid()}" in lines[0], second.stderr
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "checkpoints").exists()


def test_a_run_on_a_folder_a_live_run_holds_exits_2_and_takes_it_over_once_the_holder_is_killed(tmp_path):
    """Two terminals on one folder: the second run.py exits 2 at once (measured: the start of run.py and the lock
    check), the holder's .hydra/ untouched; once the holder is killed with SIGKILL, the same command takes the
    folder over and finishes."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, logged_step

    run_dir = tmp_path / "run"
    long = [*_args(run_dir)[:3], "train.max_steps=400", "data.max_eval=4", "eval.before=false",
            f"hydra.run.dir={run_dir}"]  # fmt: skip
    errors = tmp_path / "holder.stderr"  # a file, not a pipe nobody reads: the progress bar would fill a pipe
    with open(errors, "w") as sink:
        holder = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *long], cwd=ROOT, text=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                                  stderr=sink)  # fmt: skip
    try:
        deadline = time.time() + 300
        while logged_step(run_dir) < 1:
            assert holder.poll() is None, errors.read_text()[-2000:]
            assert time.time() < deadline
            time.sleep(0.1)
        config = (run_dir / ".hydra" / "config.yaml").read_bytes()
        started = time.monotonic()
        second = run_cli([*long[:-1], "train.lr=1e-3", f"hydra.run.dir={run_dir}"])
        took = time.monotonic() - started
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"process {holder.pid}" in second.stderr and "Traceback" not in second.stderr
        assert (run_dir / ".hydra" / "config.yaml").read_bytes() == config  # the holder's config, not the second's
        assert holder.poll() is None and took < 60, took  # it did not wait for the holder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    takeover = run_cli([*long[:3], "train.max_steps=2", "data.max_eval=4", f"hydra.run.dir={run_dir}"])
    assert takeover.returncode == 0, takeover.stderr[-2000:]
    assert (run_dir / "metrics.json").is_file()


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
