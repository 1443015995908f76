"""reward=python: the user's function, `reward.function=module:function` (module importable from the working
folder or the installed packages), called as `function(prompts, completions)` with two lists of texts and
returning one float per completion."""

from __future__ import annotations

import importlib
import sys

from contrastlab.errors import UserError
from contrastlab.rewards.base import RewardContext, RewardSource


def _check(cfg, trained_first=()):
    spec = cfg.function or ""
    module, _, name = spec.partition(":")
    if not module or not name:
        return (f"reward=python needs reward.function=module:function (got {spec or 'nothing'}), e.g. "
                "reward.function=my_rewards:brevity for def brevity(prompts, completions) in my_rewards.py")
    return None


def load(spec: str):
    """The function `module:function` names (the working folder first on the path, as `python -m` would)."""
    module_name, _, name = spec.partition(":")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise UserError(f"reward.function={spec}: cannot import {module_name} ({type(error).__name__}: {error}); "
                        "give a module in the working folder or an installed package") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UserError(f"reward.function={spec}: {module_name} has no function {name}")
    return fn


def _build(ctx: RewardContext):
    return load(ctx.cfg.function)


SOURCE = RewardSource(
    name="python",
    summary="your function reward.function=module:function(prompts, completions) -> one float each",
    build=_build,
    check=_check,
    described=lambda cfg: f"reward.function={cfg.function}",
)
