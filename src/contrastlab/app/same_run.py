"""A resumed run is the run its folder holds: the config it would run with is compared with the one the folder was
started with, before any weight loads.

The first start of a run folder keeps its config in `.hydra/first/` (a copy of Hydra's `config.yaml`,
`overrides.yaml` and `hydra.yaml`; for a run outside run.py, the composed config). A later start that would resume
from a checkpoint (`train.resume=auto` with a complete checkpoint in `checkpoints/`) may differ from it only in keys
that cannot change what the checkpoint's training computes (`MAY_DIFFER`: logging, evaluation, where caches live,
the processes and threads, and `train.max_steps` raised to continue a run); any other difference exits 2 naming
each key and its two values, and the folder's `.hydra/` files are put back as the first start wrote them (Hydra has
already overwritten them with this start's by the time the run's code runs). A start that does not resume (no
checkpoint, or `train.resume=never`) is a new first start.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from omegaconf import OmegaConf

from contrastlab.errors import RefusedStart

FIRST = "first"  # under .hydra/
HYDRA_FILES = ("config.yaml", "overrides.yaml", "hydra.yaml")  # config.yaml first
MAY_DIFFER = ("logger.", "eval.", "train.log_every", "train.eval_every", "train.save_every", "train.resume",
              "train.ref_cache", "hardware.num_processes", "hardware.threads", "hardware.main_process_port",
              "cache_dir", "save_model")  # fmt: skip


def _flat(tree, prefix: str = "") -> dict[str, object]:
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: tree}


def differences(first: dict, now: dict) -> list[tuple[str, object, object]]:
    """(key, first value, value now) of every key that differs and may not (`MAY_DIFFER`; `train.max_steps` may
    only grow, -1 (epochs) only stay)."""
    a, b = _flat(first), _flat(now)
    out = []
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key, "<absent>"), b.get(key, "<absent>")
        if old == new or key.startswith(MAY_DIFFER) or key in MAY_DIFFER:
            continue
        if key == "train.max_steps" and isinstance(old, int) and isinstance(new, int) and old >= 0 and new >= old:
            continue
        out.append((key, old, new))
    return out


def _resumes(cfg, run_dir: Path) -> bool:
    from contrastlab.objectives.trainers.resilience import latest_checkpoint

    return str(cfg.train.resume) == "auto" and latest_checkpoint(run_dir / "checkpoints") is not None


def _container(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)


def restore_hydra(run_dir: Path) -> None:
    """Put the first start's `.hydra/` files back (a start that was refused had Hydra overwrite them)."""
    first = run_dir / ".hydra" / FIRST
    for name in HYDRA_FILES:
        if (first / name).is_file():
            shutil.copyfile(first / name, run_dir / ".hydra" / name)


def _say_schedule(started: dict, now: dict) -> None:
    """train.max_steps raised to continue a run: say why it will not equal a run trained that long from the start."""
    old, new = started["train"]["max_steps"], now["train"]["max_steps"]
    if new != old:
        print(f"train.max_steps raised from {old} to {new}: training continues to step {new}, but the steps already "
              f"taken followed the learning rate's linear decay over {old} steps, so the result differs from a run "
              f"of {new} steps from the start (the learning rate from here decays over {new})", flush=True)


def check(cfg, run_dir: Path) -> None:
    """Refuse a resume whose config differs from the first start's (exit 2, `.hydra/` restored); record the first
    start's config when this start is one."""
    hydra_dir = run_dir / ".hydra"
    first = hydra_dir / FIRST
    if (first / "config.yaml").is_file() and _resumes(cfg, run_dir):
        started, now = _container(OmegaConf.load(first / "config.yaml")), _container(cfg)
        found = differences(started, now)
        if found:
            restore_hydra(run_dir)  # this start wrote Hydra's files over the first start's: put them back
            changed = "; ".join(f"{key}: {old!r} when it started, {new!r} now" for key, old, new in found)
            raise RefusedStart(
                f"{run_dir} holds a run started with another config, which train.resume=auto would continue: "
                f"{changed}. Run the changed config in a new folder (hydra.run.dir=NEW_FOLDER), or start this one "
                f"over with train.resume=never"
            )
        _say_schedule(started, now)
        return
    first.mkdir(parents=True, exist_ok=True)
    # config.yaml: the composed config, unresolved, saved as Hydra saves it (a run outside run.py has no Hydra copy,
    # and its .hydra/config.yaml is resolved); Hydra's other two files are copied
    OmegaConf.save(cfg, first / "config.yaml")
    for name in HYDRA_FILES[1:]:
        if (hydra_dir / name).is_file():
            shutil.copyfile(hydra_dir / name, first / name)
