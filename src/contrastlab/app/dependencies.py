"""Runs that must finish before a run starts, each trained into its folder when that folder holds no finished run
yet: the reward model of the generation evaluation (`eval.reward_recipe` into `eval.reward_model`), and the model a
run starts from (`model.init_recipe` into `model.init`: the SFT run of SFT-then-DPO).

The plan composes the recipe (`reward_recipe`) and plans its run, so a mistake in the recipe stops the command
before anything trains; the pipeline finishes each dependency first (`ensure`): a lock on the folder makes the
parallel jobs of a sweep wait for the one that trains it, and a finished run with the same recipe is used as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contrastlab.errors import UserError


@dataclass(frozen=True)
class Dependency:
    """A run to finish first: its folder, the overrides that compose it, and its plan."""

    folder: Path
    recipe: tuple[str, ...]
    plan: Any  # app.plan.Plan
    option: str = "eval.reward_model"  # the option that names the folder
    recipe_option: str = "eval.reward_recipe"  # the option that holds the overrides
    about: str = "the reward model"  # what the run trains, for messages


def _recipe(cfg, folder: str, overrides, name: str) -> tuple[Path, tuple[str, ...], Any]:
    """(the folder, the overrides, their composed config named `name`); the run's own hardware (a copy) unless the
    overrides name another."""
    folder, recipe = Path(folder), tuple(str(o) for o in overrides)
    composed = _compose(list(recipe))
    composed.name = name  # not the sweep job's name, which the config would resolve to
    if not any(o.lstrip("+~").split("=")[0].split(".")[0] == "hardware" for o in recipe):
        composed.hardware = cfg.hardware
    return folder, recipe, composed


def reward_recipe(cfg) -> tuple[Path, tuple[str, ...], Any] | None:
    """(the folder, the overrides, their composed config) of the reward model `eval.reward_recipe` trains, or None
    when there is none to train."""
    e = cfg.eval
    if not (e.generate and e.reward_model and e.reward_recipe):
        return None
    return _recipe(cfg, e.reward_model, e.reward_recipe, f"reward-{Path(e.reward_model).name}")


def init_recipe(cfg) -> tuple[Path, tuple[str, ...], Any] | None:
    """(the folder, the overrides, their composed config) of the run `model.init_recipe` trains into `model.init`,
    or None when there is none to train."""
    m = cfg.model
    if not (m.get("init") and m.get("init_recipe")):
        return None
    return _recipe(cfg, m.init, m.init_recipe, f"init-{Path(m.init).name}")


def ensure(dependency: Dependency, run) -> None:
    """Make `dependency` finished: nothing to do when its folder holds a finished run of the same recipe, else
    `run(plan)` into it, under a lock so that parallel jobs train it once."""
    import fcntl

    folder, recipe = dependency.folder, list(dependency.recipe)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "metrics.json").exists():
            saved = json.loads((folder / "recipe.json").read_text()) if (folder / "recipe.json").exists() else None
            if saved is not None and saved != recipe:
                option = dependency.option
                raise UserError(f"{option}={folder} was trained with other overrides ({' '.join(saved)}) than "
                                f"{dependency.recipe_option} asks for: delete that folder, or point {option} elsewhere")
            return
        if folder.exists() and any(folder.iterdir()):
            raise UserError(f"{dependency.option}={folder} holds an unfinished run (no metrics.json): delete it to "
                            f"train {dependency.about} again")
        print(f"Training {dependency.about} first, into {folder} ({' '.join(recipe)})")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "recipe.json").write_text(json.dumps(recipe) + "\n")
        run(dependency.plan)


def _compose(overrides: list[str]):
    """The config the overrides compose to (from the running app's config path, or this checkout's conf/)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return compose(config_name="config", overrides=overrides)
    from contrastlab.config.registry import register

    register()
    with initialize_config_dir(str(Path(__file__).resolve().parents[3] / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)
