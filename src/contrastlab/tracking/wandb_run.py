"""Opens the W&B run of a job: offline unless `logger.mode=online`, files under the run folder.

The whole resolved config is logged; in a sweep (`-m`) every job joins one group (the sweep folder's
name) and gets its own W&B run, finished before the next job starts.
"""

from __future__ import annotations

import os
from pathlib import Path


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
        reinit="finish_previous",
    )
