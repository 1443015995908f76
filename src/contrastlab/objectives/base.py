"""What every objective module provides: a config schema and a `SPEC`, an instance of one objective kind.

An objective is a unit: its module (schema, spec, loss), its YAML under conf/objective/ and its test. The spec says
what the objective consumes (a record type), which family evaluates it (a key of `contrastlab.families`), what it
needs (`Needs`: a reference policy, a retain set, the records' scores, the top-k tokens), and how its trainer is
built from one `TrainerContext` (`kinds`: TRL's trainer, a sequence loss on our preference trainer, an embedding
loss on our embedding trainer). Nothing outside an objective's module asks which objective it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Optional

from omegaconf import MISSING

from contrastlab.errors import UserError


@dataclass
class ObjectiveConfig:
    """Fields every objective has. Subclasses add their own, each with a one-line comment."""

    name: str = MISSING  # the objective (a module of contrastlab.objectives)
    beta: float = 0.1  # strength of the preference term (its meaning is the objective's; see its module)


@dataclass
class ReferenceObjectiveConfig(ObjectiveConfig):
    """An objective trained against a frozen reference policy."""

    precompute_ref: bool = False  # compute the reference log-probs once up front instead of keeping a frozen copy


@dataclass
class EmbeddingObjectiveConfig:
    """Fields every contrastive (sentence-embedding) objective has; trained by our `EmbeddingTrainer`."""

    name: str = MISSING  # the objective (a module of contrastlab.objectives)
    mini_batch_size: int = 0  # GradCache: embed the batch in chunks of this many texts (same gradients); 0 = off


@dataclass(frozen=True)
class Needs:
    """What an objective needs besides its records, for the builders (declared, never guessed from config keys)."""

    reference: bool = False  # a reference policy: the LoRA base, a frozen copy, or log-probs computed up front
    precompute_reference: bool = False  # the reference log-probs computed once before training (no frozen copy)
    retain: bool = False  # a retain set: each forget example is paired with a retain example
    scores: bool = False  # the records' scores reach the loss (TRL's reward trainer: the margin column)
    topk: int = 0  # the policy's top-k next-token log-probs per position (a full-logits forward pass)
    reward: bool = False  # a reward (`reward=...`) scores the policy's own completions in training (on-policy)


def no_needs(cfg) -> Needs:
    return Needs()


def with_reference(cfg, **more) -> Needs:
    """The needs of an objective trained against a reference policy (`ReferenceObjectiveConfig`)."""
    return Needs(reference=True, precompute_reference=bool(cfg.precompute_ref), **more)


def temperature_problem(cfg) -> Optional[str]:
    """The check of an embedding objective whose config has `temperature`: an error message or None."""
    if cfg.temperature <= 0:
        return f"objective.temperature={cfg.temperature} must be positive (it divides the similarities)"
    return None


def unlearning_problem(cfg) -> Optional[str]:
    """The check of an unlearning objective (`beta` divides its loss; `retain_weight` weighs its retain NLL)."""
    if cfg.beta <= 0:
        return f"objective.beta={cfg.beta} must be positive (the loss divides by it)"
    if cfg.retain_weight < 0:
        return f"objective.retain_weight={cfg.retain_weight} must be at least 0"
    return None


@dataclass(frozen=True, kw_only=True)
class ObjectiveSpec(ABC):
    """How the job builds and evaluates an objective, without asking which objective it is."""

    name: str  # registry key; the YAML under conf/objective/ sets `name:` to it
    schema: type  # the config dataclass
    record: type  # the record type it consumes (a `data.records` class)
    family: str  # the family that evaluates it: a key of `contrastlab.families` (policy, reward, embedding, ...)
    summary: str  # one line for the README and errors
    paper: str  # where it comes from
    needs: Callable[[Any], Needs] = no_needs  # objective config -> what it needs
    check: Optional[Callable[[Any], Optional[str]]] = None  # cross-field check: an error message or None
    check_records: Optional[Callable[[Any, list], Optional[str]]] = None  # (config, records) -> error or None
    check_run: Optional[Callable[[Any], Optional[str]]] = None  # the whole run config -> error or None
    uses_beta: bool = True  # `objective.beta` scales its preference term (so it must be positive)

    def validate(self, cfg) -> None:
        """The objective's own checks of its config (UserError), before anything loads."""
        beta = getattr(cfg, "beta", None)
        if self.uses_beta and beta is not None and beta <= 0:
            default = getattr(self.schema, "beta", 0.1)
            raise UserError(f"objective.beta={beta} must be positive: it sets the strength of objective={self.name}'s "
                            f"preference term; give e.g. its default, objective.beta={default}")
        problem = self.check(cfg) if self.check else None
        if problem:
            raise UserError(problem)

    def reward_scale(self, cfg) -> float:
        """beta of the implicit reward beta * log-ratio that the held-out preference evaluation reports."""
        return float(getattr(cfg, "beta", 0.1))

    @abstractmethod
    def build_trainer(self, ctx):
        """(a ready transformers Trainer, the number of training rows) from a `kinds.TrainerContext`."""
