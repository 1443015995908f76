"""Rewards: what scores a completion, for on-policy training (`objective=grpo`, `rloo`, `online_dpo`,
`iterative_dpo`) and for the generation evaluation (`eval.generate=true`) alike. One module per source (`SOURCE`, a
`base.RewardSource`): `model`, `lexicon`, `length`, `python`; `reward.sources=[a, b]` with `reward.weights=[...]`
sums several. `names()` lists the sources without importing them (the config schema's choices)."""

from __future__ import annotations

import importlib
import pkgutil

from contrastlab.errors import UserError

NONE = "none"  # reward=none: nothing scores completions


def names() -> tuple[str, ...]:
    """The sources' names (their modules'), without importing them."""
    return tuple(info.name for info in pkgutil.iter_modules(__path__) if info.name != "base")


def discover() -> dict:
    """Every source of this package, by name."""
    from contrastlab.rewards.base import RewardSource

    found = {}
    for name in names():
        source = getattr(importlib.import_module(f"{__name__}.{name}"), "SOURCE", None)
        if isinstance(source, RewardSource):
            found[source.name] = source
    return found


def chosen(cfg) -> list[str]:
    """The sources a reward config sums: `reward.sources`, else `[reward.name]`; [] for reward=none."""
    sources = [str(s) for s in cfg.sources] if cfg.sources else [str(cfg.name)]
    return [s for s in sources if s != NONE]


def check(cfg, trained_first: tuple[str, ...] = ()) -> None:
    """The reward config's checks before anything loads (UserError naming the option and the fix).
    `trained_first`: run folders the plan trains before this run (a reward model of eval.reward_recipe)."""
    known, sources = discover(), chosen(cfg)
    for name in sources:
        if name not in known:
            raise UserError(f"reward.sources: {name} is not a reward source; choose from {', '.join(sorted(known))}")
    if cfg.weights and len(cfg.weights) != len(sources):
        raise UserError(f"reward.weights={list(cfg.weights)} gives {len(cfg.weights)} weights for "
                        f"{len(sources)} sources ({', '.join(sources)}): give one weight per source, or none (all 1)")
    if len(set(sources)) != len(sources):
        raise UserError(f"reward.sources={sources} names a source twice: each reads its one set of options")
    for name in sources:
        problem = known[name].check(cfg, trained_first) if known[name].check else None
        if problem:
            raise UserError(problem)


def build(ctx):
    """The `base.Reward` of `ctx.cfg` (a `base.RewardContext`), or None for reward=none."""
    from contrastlab.rewards.base import Part, Reward

    known, sources = discover(), chosen(ctx.cfg)
    if not sources:
        return None
    weights = [float(w) for w in ctx.cfg.weights] if ctx.cfg.weights else [1.0] * len(sources)
    parts = []
    for name, weight in zip(sources, weights):
        about = known[name].described(ctx.cfg)
        parts.append(Part(name, f"reward={name}" + (f" ({about})" if about else ""), known[name].build(ctx), weight))
    return Reward(parts)


def build_for_run(cfg, tokenizer=None, hardware=None, batch_size: int = 8):
    """The `base.Reward` of a whole run config (one that predates the reward group has none), or None."""
    from contrastlab.rewards.base import RewardContext

    reward_cfg = cfg.get("reward") if hasattr(cfg, "get") else None
    if reward_cfg is None:
        return None
    return build(RewardContext(cfg=reward_cfg, tokenizer=tokenizer, hardware=hardware, batch_size=batch_size))
