"""What every reward source is, and the reward a run trains against or scores with: one source, or a weighted sum.

A reward source is a module of this package exporting `SOURCE`, a `RewardSource`: its name (what `reward=NAME`
and `reward.sources=[...]` say), its cheap checks of the config (before anything loads) and how it builds its
scoring function from a `RewardContext`. A scoring function maps prompts and completions (texts, in order) to one
float each. `Reward` wraps the functions with their weights and checks every call: a function that raises, returns
the wrong count or a value that is not a finite number stops the run with a `UserError` naming it (exit 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from contrastlab.errors import UserError

ScoreFn = Callable[[list[str], list[str]], list[float]]  # (prompts, completions) -> one float each


@dataclass(frozen=True, kw_only=True)
class RewardContext:
    """What a source builds from: the run's reward config, the policy's tokenizer (for lengths in tokens), the
    resolved hardware (where a reward model runs) and a batch size."""

    cfg: Any  # the run's `reward` config
    tokenizer: Any = None
    hardware: Any = None
    batch_size: int = 8


@dataclass(frozen=True, kw_only=True)
class RewardSource:
    name: str  # reward=NAME
    summary: str  # one line for the README and errors
    build: Callable[[RewardContext], ScoreFn]
    check: Optional[Callable[[Any, tuple], Optional[str]]] = None  # (reward config, folders trained first) -> error
    described: Callable[[Any], str] = lambda cfg: ""  # reward config -> what it scores, for messages ("reward=...")


@dataclass
class Part:
    """One source of a reward: its name (`lexicon`), label (`reward=python (reward.function=m:f)`), function and
    weight."""

    source: str
    label: str
    fn: ScoreFn
    weight: float = 1.0

    def __call__(self, prompts: list[str], completions: list[str]) -> list[float]:
        try:
            values = self.fn(list(prompts), list(completions))
        except UserError:
            raise
        except Exception as error:  # the user's code, or a broken reward model: one line, not a traceback
            raise UserError(f"{self.label} raised {type(error).__name__}: {error}; fix it (it is called with lists "
                            "of prompts and completions and returns one float each)") from None
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            raise UserError(f"{self.label} returned {str(values)[:60]!r}, not a list of numbers: return one float "
                            "per completion") from None
        if len(values) != len(completions):
            raise UserError(f"{self.label} returned {len(values)} values for {len(completions)} completions: return "
                            "one float per completion")
        bad = next((v for v in values if not math.isfinite(v)), None)
        if bad is not None:
            raise UserError(f"{self.label} returned {bad} for a completion: a reward must be a finite number")
        return values


@dataclass
class Reward:
    """The weighted sum of its parts: r(x, y) = sum_i w_i r_i(x, y)."""

    parts: list[Part]

    @property
    def label(self) -> str:
        if len(self.parts) == 1 and self.parts[0].weight == 1.0:
            return self.parts[0].label
        return " + ".join(f"{p.weight:g} x {p.label}" for p in self.parts)

    def __call__(self, prompts: list[str], completions: list[str]) -> list[float]:
        total = [0.0] * len(completions)
        for part in self.parts:
            total = [t + part.weight * v for t, v in zip(total, part(prompts, completions))]
        return total

    def tensor(self, prompts: list, completions: list, desc: str = "reward"):
        """r of each (prompt, completion) as a float32 tensor; prompts and completions may be message lists (the
        generation evaluation's scorer)."""
        import torch

        from contrastlab.data.encoding import plain

        return torch.tensor(self([plain(p) for p in prompts], [plain(c) for c in completions]), dtype=torch.float32)

