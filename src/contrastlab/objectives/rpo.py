"""RPO: DPO plus a negative log-likelihood (SFT) term on the chosen completion.

Loss: L_DPO + alpha * NLL(y_w | x). Run by TRL's DPOTrainer with `loss_type=[sigmoid, sft]`,
`loss_weights=[1, alpha]` (TRL 1.16 removed `rpo_alpha`).
Pang et al. 2024, https://arxiv.org/abs/2404.19733
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class RPOConfig(ReferenceObjectiveConfig):
    """RPO."""

    alpha: float = 1.0  # weight of the SFT term on the chosen completion


def _trl_args(cfg) -> dict:
    return {
        "beta": cfg.beta,
        "loss_type": ["sigmoid", "sft"],
        "loss_weights": [1.0, cfg.alpha],
        "precompute_ref_log_probs": cfg.precompute_ref,
    }


SPEC = TrlObjective(
    name="rpo",
    schema=RPOConfig,
    record=PreferencePair,
    family="policy",
    summary="DPO plus alpha times the NLL of the chosen completion",
    paper="Pang et al. 2024, arXiv:2404.19733",
    trl_trainer="DPOTrainer",
    trl_args=_trl_args,
    needs=with_reference,
)
