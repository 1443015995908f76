"""What every objective module provides: a config schema and an `ObjectiveSpec` named `SPEC`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from omegaconf import MISSING


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


@dataclass(frozen=True)
class ObjectiveSpec:
    """How the runner builds and evaluates an objective, without asking which objective it is."""

    name: str  # registry key; the YAML under conf/objective/ sets `name:` to it
    schema: type  # the config dataclass
    record: str  # record type consumed: PreferencePair | Unpaired | Ranked | SentencePair | ...
    family: str  # evaluation family: "policy" (a language model) | "reward" (a scalar scorer) | "embedding" |
    #              "unlearning" (a language model made to forget: forget/retain log-likelihoods)
    summary: str  # one line for the README and errors
    paper: str  # where it comes from
    trl_trainer: Optional[str] = None  # dpo | kto | orpo | cpo | reward: the TRL trainer that runs it
    trl_args: Optional[Callable[[Any], dict]] = None  # objective config -> that trainer's config fields
    loss_head: Optional[Callable[[Any], Any]] = None  # objective config -> loss module over embeddings (ours)
    sequence_loss: Optional[Callable[[Any, list], Any]] = None  # (config, training records) -> SequenceLoss (ours)
    uses_reference: bool = False  # whether training needs a reference policy
    check: Optional[Callable[[Any], Optional[str]]] = None  # cross-field check: an error message or None
    check_records: Optional[Callable[[Any, list], Optional[str]]] = None  # (config, records) -> error or None
