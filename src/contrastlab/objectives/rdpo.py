"""Robust DPO: DPO made unbiased under preference labels flipped with probability epsilon (`label_noise`).

Loss: [(1 - eps) * l(beta h) - eps * l(-beta h)] / (1 - 2 eps), l = -log sigma, h the DPO log-ratio margin.
Run by TRL's DPOTrainer with `loss_type=robust`, `label_smoothing=eps`.
Chowdhury et al. 2024, https://arxiv.org/abs/2403.00409
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class RobustDPOConfig(ReferenceObjectiveConfig):
    """Robust DPO."""

    label_noise: float = 0.1  # assumed probability that a preference label is flipped, in [0, 0.5)


def _check(cfg) -> Optional[str]:
    if not 0.0 <= cfg.label_noise < 0.5:
        return f"objective.label_noise={cfg.label_noise} must lie in [0, 0.5) (a flip rate of 0.5 carries no signal)"
    return None


def _trl_args(cfg) -> dict:
    return {
        "beta": cfg.beta,
        "loss_type": ["robust"],
        "label_smoothing": cfg.label_noise,
        "precompute_ref_log_probs": cfg.precompute_ref,
    }


SPEC = TrlObjective(
    name="rdpo",
    schema=RobustDPOConfig,
    record=PreferencePair,
    family="policy",
    summary="Robust DPO: unbiased DPO under a known rate of flipped preference labels",
    paper="Chowdhury et al. 2024, arXiv:2403.00409",
    trl_trainer="DPOTrainer",
    trl_args=_trl_args,
    needs=with_reference,
    check=_check,
)
