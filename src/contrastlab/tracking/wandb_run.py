"""Opens the W&B run of a job: offline unless `logger.mode=online`, files under the run folder.

The whole resolved config is logged; in a sweep (`-m`) every job joins one group (the sweep folder's
name) and gets its own W&B run, finished before the next job starts. A run folder has one W&B run id, derived
from its absolute path, opened with `resume="allow"`: a run resumed in the same folder continues the same W&B run
(offline, each attempt writes its own `wandb/offline-run-*` folder; `wandb sync` joins them under that id).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def wandb_run_id(run_dir: Path) -> str:
    """The W&B run id of the run folder `run_dir`: the first 16 hex digits of the BLAKE2b hash of its absolute,
    resolved path (the same folder gives the same id, in any process; another folder another id)."""
    return hashlib.blake2b(str(Path(run_dir).resolve()).encode(), digest_size=8).hexdigest()


def open_wandb(logger_cfg, config: dict, run_dir: Path, run_name: str, sweep_group: str | None):
    """A started `wandb.Run`, or None when `logger.backend=none`."""
    if logger_cfg.backend != "wandb":
        return None
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    return wandb.init(
        project=logger_cfg.project,
        entity=logger_cfg.entity,
        name=run_name,
        group=logger_cfg.group or sweep_group,
        tags=list(logger_cfg.tags),
        config=config,
        dir=str(run_dir),
        mode=logger_cfg.mode,
        id=wandb_run_id(run_dir),
        resume="allow",
        reinit="finish_previous",
    )
