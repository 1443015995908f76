"""KTO: Kahneman-Tversky optimisation on unpaired desirable / undesirable completions, run by TRL's KTOTrainer.

Loss: lambda_D (1 - sigma(beta (r(x,y) - z0))) for desirable y, lambda_U (1 - sigma(beta (z0 - r(x,y)))) for
undesirable y, with r the policy/reference log-ratio and z0 a batch KL estimate. Preference pairs adapt by
themselves (chosen -> desirable, rejected -> undesirable).
Ethayarajh et al. 2024, https://arxiv.org/abs/2402.01306
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.unpaired import Unpaired
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class KTOConfig(ReferenceObjectiveConfig):
    """KTO."""

    desirable_weight: float = 1.0  # lambda_D: weight of desirable examples
    undesirable_weight: float = 1.0  # lambda_U: weight of undesirable examples


def _trl_args(cfg) -> dict:
    return {
        "beta": cfg.beta,
        "desirable_weight": cfg.desirable_weight,
        "undesirable_weight": cfg.undesirable_weight,
        "precompute_ref_log_probs": cfg.precompute_ref,
    }


SPEC = TrlObjective(
    name="kto",
    schema=KTOConfig,
    record=Unpaired,
    family="policy",
    summary="Kahneman-Tversky optimisation on unpaired desirable/undesirable completions",
    paper="Ethayarajh et al. 2024, arXiv:2402.01306",
    trl_trainer="KTOTrainer",
    trl_args=_trl_args,
    needs=with_reference,
)
