"""The run folders a comparison report reads: `Job` (one folder: its config, overrides, status and metrics),
`read_jobs`, the labels that tell configurations apart, and `ReportColumns` (which metrics lead the tables and what
the plots show: the families', merged). No torch is imported."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from contrastlab.errors import UserError

COST = ("train/loss", "time/total_s", "train/tokens_per_s", "hardware/peak_gpu_memory_gb", "hardware/peak_rss_gb")
KILLED = "no metrics.json (killed, or still running)"


@dataclass(frozen=True)
class ReportColumns:
    """Which metrics lead the report's tables and what its plots show (a family's, or several merged)."""

    key: tuple[str, ...] = ()  # the leading metric columns, in order (the cost columns follow)
    reference: tuple[str, ...] = ()  # before/<m> columns shown after their after/<m> twin, labelled "(reference)"
    curves: tuple[str, ...] = ()  # held-out metrics (eval/<m>) to plot over training; the first measured is drawn
    frontier: tuple[str, str, str] | None = None  # (x, y, reference y): one point per job, the reference as a line

    @staticmethod
    def merge(parts) -> "ReportColumns":
        parts = list(parts)

        def joined(name: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(m for part in parts for m in getattr(part, name)))

        frontier = next((part.frontier for part in parts if part.frontier is not None), None)
        return ReportColumns(joined("key"), joined("reference"), joined("curves"), frontier)

    @property
    def leading(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.key + COST))


@dataclass
class Job:
    """One run folder, read."""

    folder: Path
    status: str  # ok | failed
    error: str  # the failure's one-line message; "" when ok
    objective: str
    model: str
    data: str
    seed: int | None
    overrides: list[str]  # the job's command-line overrides (.hydra/overrides.yaml)
    metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        """What makes a configuration: everything but the seed."""
        return (self.objective, self.model, self.data, tuple(config_overrides(self)))


def is_run_folder(path: Path) -> bool:
    return (path / ".hydra").is_dir()


def find_run_folders(path: Path) -> list[Path]:
    """`path` itself when it is a run folder, else the run folders directly in it, in job order."""
    if is_run_folder(path):
        return [path]
    if not path.is_dir():
        raise UserError(f"{path}: no such folder (give a run folder or a multirun folder)")
    found = [p for p in path.iterdir() if p.is_dir() and is_run_folder(p)]
    if not found:
        raise UserError(f"{path} is neither a run folder (no .hydra/ in it) nor a folder of run folders")
    return sorted(found, key=_job_order)


def _job_order(path: Path) -> tuple:
    number = re.match(r"(\d+)_", path.name)
    return (int(number.group(1)) if number else math.inf, path.name)


def read_job(folder: Path) -> Job:
    config = read_yaml(folder / ".hydra" / "config.yaml") or {}
    overrides = [str(o) for o in read_yaml(folder / ".hydra" / "overrides.yaml") or []]
    metrics, status, error = {}, "ok", ""
    if (folder / "metrics.json").exists():
        try:
            metrics = {k: v for k, v in json.loads((folder / "metrics.json").read_text()).items() if _is_number(v)}
        except (OSError, ValueError) as err:
            status, error = "failed", f"unreadable metrics.json: {err}"
    else:
        status, error = "failed", KILLED
    if (folder / "error.json").exists():
        status = "failed"
        try:
            record = json.loads((folder / "error.json").read_text())
            kind, error = record.get("type", ""), str(record.get("error", ""))
            error = error if kind in ("", "UserError") else f"{kind}: {error}"
        except (OSError, ValueError) as err:
            error = f"unreadable error.json: {err}"
    seed = _field(config, "train", "seed")
    return Job(folder=folder, status=status, error=error, objective=str(_field(config, "objective", "name", "?")),
               model=str(_field(config, "model", "name", "?")), data=str(_field(config, "data", "name", "?")),
               seed=seed if isinstance(seed, int) else None, overrides=overrides, metrics=metrics)  # fmt: skip


def _field(config, section: str, name: str, default=None):
    """config[section][name], or `default` where the config lacks it."""
    part = config.get(section) if isinstance(config, dict) else None
    return part.get(name, default) if isinstance(part, dict) else default


def read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _is_number(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def config_overrides(job: Job) -> list[str]:
    """The overrides that make the configuration: all but the seed and the objective (named on its own)."""
    return [o for o in job.overrides if not o.startswith(("train.seed=", "objective="))]


def read_jobs(paths: list[Path]) -> tuple[list[Job], list[Path]]:
    """The jobs under `paths` and the sweep folders among them (folders of run folders)."""
    folders, sweeps = [], []
    for path in map(Path, paths):
        found = find_run_folders(path)
        folders += found
        if found != [path]:
            sweeps.append(path)
    return [read_job(f) for f in folders], sweeps


def common_overrides(jobs: list[Job]) -> list[str]:
    """The configuration overrides every job shares (left out of the labels, listed once)."""
    if not jobs:
        return []
    shared = set(config_overrides(jobs[0])).intersection(*(config_overrides(j) for j in jobs[1:]))
    return [o for o in config_overrides(jobs[0]) if o in shared]


def label(job: Job, common: list[str]) -> str:
    """`dpo objective.beta=0.1`: the objective and the overrides that set this configuration apart."""
    return " ".join([job.objective, *(o for o in config_overrides(job) if o not in common)])
