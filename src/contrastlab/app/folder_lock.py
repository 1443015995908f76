"""One process at a time on a run folder: two terminals, or a requeued SLURM job racing its old self, would write the
same checkpoints and logs. The first start holds an exclusive `flock` on `<run folder>/.lock` (holding its process
id) for as long as it runs; a second start exits 2 at once, naming the folder and the holder. The kernel releases
the lock when the holder exits or dies, so a lock file left by a killed run is never stale."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from contrastlab.errors import RefusedStart

LOCK = ".lock"


class FolderInUse(RefusedStart):
    """Another live process holds the run folder."""


@contextlib.contextmanager
def hold(run_dir: Path):
    """Hold the run folder's lock for the block; FolderInUse when another process holds it. Yields `claim()`, which
    writes this process's id into the lock file: called once the run is sure to go on, so that a start refused
    for another reason (`app.same_run`) changes no file of the folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise FolderInUse(f"{run_dir} is in use by another run (process {holder}); wait for it to end, or run "
                            f"in another folder (hydra.run.dir=NEW_FOLDER)") from None  # fmt: skip

        def claim() -> None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

        yield claim
    finally:
        os.close(fd)  # releases the lock
