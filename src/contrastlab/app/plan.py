"""Decide once, then run: a run's config becomes an immutable `Plan` before anything loads.

`make_plan(cfg, ...)` validates the config (`config.validate`), resolves what the config leaves to the machine
(`auto` device and precision, one process per visible GPU: `Hardware`), and plans the runs that must finish first
(a reward model trained from `eval.reward_recipe`: `app.dependencies`). The config is made read-only: nothing edits
it after validation; what the machine decides lives in `plan.hardware`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from contrastlab.app.dependencies import Dependency, init_recipe, reward_recipe
from contrastlab.config.validate import validate
from contrastlab.errors import UserError
from contrastlab.models.init import adopt


@dataclass(frozen=True)
class Hardware:
    """`cfg.hardware` with what it leaves to the machine resolved; the same fields, read the same way."""

    name: str
    device: str  # cpu | cuda
    precision: str  # fp32 | bf16 | fp16
    threads: int | None
    strategy: str  # single | ddp | fsdp | deepspeed
    num_processes: int
    backend: str | None
    main_process_port: int | None
    fsdp: Any
    deepspeed: Any

    @property
    def launches(self) -> bool:
        """Several processes, or an engine (FSDP, DeepSpeed) that needs a process group even for one."""
        return self.num_processes > 1 or self.strategy in ("fsdp", "deepspeed")


def resolve_hardware(hw) -> Hardware:
    """`device=auto` (cuda when a GPU is visible), `precision=auto` (bf16 on such a GPU when it supports it, else
    fp32), `num_processes=null` (one per visible GPU); a CUDA device that is not there is refused."""
    import torch

    device = str(hw.device)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(f"hardware={hw.name} runs on a CUDA GPU but none is visible: use hardware=cpu")
    precision = str(hw.precision)
    if precision == "auto":
        precision = "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    processes = hw.num_processes
    if processes is None:
        if device != "cuda":
            raise UserError(f"hardware.num_processes=null starts one process per visible GPU, and hardware={hw.name} "
                            "runs on the CPU: give a number, e.g. hardware.num_processes=2")
        processes = torch.cuda.device_count()
    return Hardware(name=hw.name, device=device, precision=precision, threads=hw.threads, strategy=str(hw.strategy),
                    num_processes=processes, backend=None if hw.backend is None else str(hw.backend),
                    main_process_port=hw.main_process_port, fsdp=hw.fsdp, deepspeed=hw.deepspeed)  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """One run, decided: its validated (read-only) config, objective, family, hardware, folder, and the runs that
    must finish before it starts (`before`: app.dependencies.Dependency)."""

    cfg: Any
    objective: Any  # objectives.base.ObjectiveSpec
    family: Any  # families.base.Family
    hardware: Hardware
    run_dir: Path
    run_name: str
    sweep_group: str | None = None
    before: tuple = ()

    @property
    def primary(self) -> str:
        """The metrics.json entry the run returns to a sweeper: eval.metric, else the family's main held-out one."""
        return self.cfg.eval.metric or f"after/{self.family.primary}"


def make_plan(cfg, run_dir: Path, run_name: str | None = None, sweep_group: str | None = None,
              dependencies: bool = True) -> Plan:
    """The plan of the composed config `cfg` for the run folder `run_dir`. `dependencies=False`: do not plan the
    runs to finish first (a worker process: its launcher did)."""
    first = _init_first(cfg) if dependencies else ()
    adopt(cfg, first[0].plan.cfg if first else None)  # model.init: the init run's model config (models.init)
    spec, family = validate(cfg)
    hardware = resolve_hardware(cfg.hardware)
    before = first + (_reward_model_first(cfg) if dependencies else ())
    OmegaConf.set_readonly(cfg, True)
    return Plan(cfg=cfg, objective=spec, family=family, hardware=hardware, run_dir=Path(run_dir),
                run_name=run_name or Path(run_dir).name, sweep_group=sweep_group, before=before)  # fmt: skip


def _init_first(cfg) -> tuple[Dependency, ...]:
    """The run of `model.init_recipe`, planned (a model of the same kind to start from), or ()."""
    recipe = init_recipe(cfg)
    if recipe is None:
        return ()
    folder, overrides, init_cfg = recipe
    plan = make_plan(init_cfg, run_dir=folder, dependencies=False)
    return (Dependency(folder=folder, recipe=overrides, plan=plan, option="model.init",
                       recipe_option="model.init_recipe", about="the starting model"),)


def _reward_model_first(cfg) -> tuple[Dependency, ...]:
    """The reward-model run of `eval.reward_recipe`, planned (a model that scores completions), or ()."""
    recipe = reward_recipe(cfg)
    if recipe is None:
        return ()
    folder, overrides, reward_cfg = recipe
    plan = make_plan(reward_cfg, run_dir=folder, dependencies=False)
    if not plan.family.scores_completions:
        raise UserError(f"eval.reward_recipe must train a model that scores completions (objective=reward), not "
                        f"objective={plan.objective.name}")
    return (Dependency(folder=folder, recipe=overrides, plan=plan),)
