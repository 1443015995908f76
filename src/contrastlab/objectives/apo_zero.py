"""APO-zero: anchored preference optimisation, run by TRL's DPOTrainer (`loss_type=apo_zero`).

APO-zero: raise the likelihood of chosen and lower that of rejected (for chosen outputs better than the model's).
D'Oosterlinck et al. 2024, https://arxiv.org/abs/2408.06266
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class APOZeroConfig(ReferenceObjectiveConfig):
    """APO-zero."""


def _trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "loss_type": ["apo_zero"], "precompute_ref_log_probs": cfg.precompute_ref}


SPEC = TrlObjective(
    name="apo_zero",
    schema=APOZeroConfig,
    record=PreferencePair,
    family="policy",
    summary="APO-zero: raise the likelihood of chosen and lower that of rejected (for chosen outputs better than the model's)",
    paper="D'Oosterlinck et al. 2024, arXiv:2408.06266",
    trl_trainer="DPOTrainer",
    trl_args=_trl_args,
    needs=with_reference,
)
