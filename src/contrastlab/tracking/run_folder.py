"""The run folder's own files: `log.jsonl` (one line per logging step) and `metrics.json` (final, atomic).

`RunLog` writes both and, with `logger=wandb`, mirrors every line to a W&B run whose files live in
`<run folder>/wandb/`. Whatever the logger, log.jsonl and metrics.json are written.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    """JSON-safe numbers: NaN and infinities become null (JSON has no such values)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def umask_mode() -> int:
    """The mode a new file gets under the user's umask (a temp file and safetensors' files get 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def share_as_umask(folder: Path) -> None:
    """Give every file under `folder` the user's umask mode, as a plain `open` would have."""
    mode = umask_mode()
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, mode)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write `data` to `path` so a reader never sees half a file (temp file + rename), with the user's umask mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.fchmod(fd, umask_mode())
    with os.fdopen(fd, "w") as fh:
        json.dump({k: _clean(v) for k, v in data.items()}, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """One JSON object a line (the run folder's samples.jsonl)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)


class RunLog:
    """log.jsonl + optional W&B. Use as a context manager, or call `finish()`. `write=False` (the processes of a
    run other than rank 0) makes every call a no-op."""

    def __init__(self, run_dir: Path, wandb_run=None, write: bool = True):
        self.run_dir, self.wandb, self.write = Path(run_dir), wandb_run, write
        if not write:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.run_dir / "log.jsonl", "a", encoding="utf-8")

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.write:
            return
        row = {"step": int(step), **{k: _clean(float(v)) for k, v in metrics.items() if _is_number(v)}}
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in row.items() if k != "step"}, step=int(step))

    def keep_until(self, step: int) -> None:
        """Drop the lines of log.jsonl after `step` (a resumed run logs those steps again), atomically."""
        if not self.write:
            return
        self._fh.close()
        path = self.run_dir / "log.jsonl"
        lines = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                 if line.strip() and json.loads(line).get("step", 0) <= step]  # fmt: skip
        fd, tmp = tempfile.mkstemp(prefix=".log.jsonl.", dir=self.run_dir)
        os.fchmod(fd, umask_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        os.replace(tmp, path)
        self._fh = open(path, "a", encoding="utf-8")

    def table(self, name: str, rows: list[dict]) -> None:
        """A table (one dict per row) in W&B; the run folder keeps its own copy of such rows (samples.jsonl)."""
        if self.wandb is not None and rows:
            import wandb

            columns = list(dict.fromkeys(key for row in rows for key in row))
            self.wandb.log({name: wandb.Table(columns=columns, data=[[row.get(c) for c in columns] for row in rows])})

    def summary(self, metrics: dict[str, float]) -> None:
        if self.wandb is not None:
            self.wandb.summary.update(metrics)

    def finish(self, exit_code: int = 0) -> None:
        if self.write and not self._fh.closed:
            self._fh.close()
        if self.wandb is not None:
            self.wandb.finish(exit_code=exit_code)
            self.wandb = None

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
