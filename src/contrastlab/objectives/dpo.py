"""DPO: direct preference optimisation, run by TRL's DPOTrainer.

Loss (sigmoid): -log sigma(beta * [(log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x))]).
`loss_type` takes any of TRL's DPO loss types, or a list of them combined with `loss_weights`.
Rafailov et al. 2023, https://arxiv.org/abs/2305.18290
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import TrlObjective

# TRL 1.16's DPOConfig.loss_type choices (tests/unit/test_objectives.py checks this list against TRL).
TRL_DPO_LOSS_TYPES = (
    "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
    "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
)  # fmt: skip


@dataclass
class DPOConfig(ReferenceObjectiveConfig):
    """DPO and the loss variants TRL implements."""

    loss_type: Any = "sigmoid"  # a TRL DPO loss type, or a list of them
    loss_weights: Optional[List[float]] = None  # one weight per loss type; null = all 1
    label_smoothing: float = 0.0  # flip probability for `robust`, epsilon for `exo_pair`


def _loss_types(cfg) -> list[str]:
    return [cfg.loss_type] if isinstance(cfg.loss_type, str) else list(cfg.loss_type)


def _check(cfg) -> Optional[str]:
    types = _loss_types(cfg)
    unknown = [t for t in types if t not in TRL_DPO_LOSS_TYPES]
    if unknown:
        return f"objective.loss_type={unknown[0]} is not a DPO loss type; choose from {', '.join(TRL_DPO_LOSS_TYPES)}"
    if cfg.loss_weights is not None and len(cfg.loss_weights) != len(types):
        return f"objective.loss_weights has {len(cfg.loss_weights)} weights for {len(types)} loss types; give one each"
    return None


def _trl_args(cfg) -> dict:
    return {
        "beta": cfg.beta,
        "loss_type": _loss_types(cfg),
        "loss_weights": None if cfg.loss_weights is None else list(cfg.loss_weights),
        "label_smoothing": cfg.label_smoothing,
        "precompute_ref_log_probs": cfg.precompute_ref,
    }


SPEC = TrlObjective(
    name="dpo",
    schema=DPOConfig,
    record=PreferencePair,
    family="policy",
    summary="Direct preference optimisation; any TRL DPO loss type or a weighted list of them",
    paper="Rafailov et al. 2023, arXiv:2305.18290",
    trl_trainer="DPOTrainer",
    trl_args=_trl_args,
    needs=with_reference,
    check=_check,
)
