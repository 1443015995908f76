"""A run, from the composed config to its number: plan it, finish what it needs first, run its job here or in N
processes, return what a sweeper optimises.

    run(cfg)                       # under run.py: Hydra's run folder
    run(cfg, run_dir=folder)       # a composed config run outside run.py (tests, scripts)
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from contrastlab.app import folder_lock, same_run
from contrastlab.app.dependencies import ensure
from contrastlab.app.launch import launch
from contrastlab.app.plan import make_plan
from contrastlab.distributed import in_worker


def _hydra_context() -> tuple[Path, str, str | None]:
    """(run folder, run name, sweep group) from Hydra's runtime config."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        return run_dir, f"{Path(hc.sweep.dir).name}/{run_dir.name}", Path(hc.sweep.dir).name
    return run_dir, f"{run_dir.parent.name}/{run_dir.name}", None


def run(cfg, run_dir: Path | None = None, run_name: str | None = None, sweep_group: str | None = None) -> float:
    """Plan, then execute the run of the composed config `cfg`; return the family's main held-out metric after
    training (or `eval.metric`): NaN when the run did not measure it."""
    if run_dir is None:
        run_dir, run_name, sweep_group = _hydra_context()
    if in_worker():  # a process of a launched run: its launching job holds the folder and checked the config
        plan = make_plan(cfg, Path(run_dir), run_name, sweep_group)
        return run_value(plan, execute(plan))
    try:
        with folder_lock.hold(Path(run_dir)) as claim:
            same_run.check(cfg, Path(run_dir))  # a resume runs the config its folder started with (before weights)
            claim()
            plan = make_plan(cfg, Path(run_dir), run_name, sweep_group)
            metrics = execute(plan)
    except folder_lock.FolderInUse:
        same_run.restore_hydra(Path(run_dir))  # Hydra wrote this start's .hydra/ files over the running one's
        raise
    return run_value(plan, metrics)


def execute(plan) -> dict[str, float]:
    """The runs the plan needs finished first, then its job: here, or in its processes (`launch`)."""
    for dependency in plan.before:
        ensure(dependency, execute)
    _record_config(plan)
    if plan.hardware.launches and not in_worker():
        return launch(plan)
    from contrastlab.app.job import run_job  # heavy imports happen here, after planning

    return run_job(plan)


def _record_config(plan) -> None:
    """A run outside run.py records its config as Hydra would (`.hydra/config.yaml`), once."""
    config = plan.run_dir / ".hydra" / "config.yaml"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(plan.cfg, config, resolve=True)


def run_value(plan, metrics: dict[str, float]) -> float:
    """The number a run returns to Hydra's sweeper (what Optuna optimises): `metrics[plan.primary]`; NaN when the
    run did not measure it."""
    value = metrics.get(plan.primary)
    if value is None:
        print(f"eval.metric={plan.primary} was not measured by this run (it measured: {', '.join(sorted(metrics))})")
        return float("nan")
    return float(value)


