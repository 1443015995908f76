"""IPO: identity preference optimisation, run by TRL's DPOTrainer (`loss_type=ipo`).

Loss: ((log-ratio_w - log-ratio_l) - 1 / (2 tau))^2, with tau = `beta`; log-ratios are length-averaged.
Azar et al. 2023, https://arxiv.org/abs/2310.12036
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class IPOConfig(ReferenceObjectiveConfig):
    """IPO; `beta` is the regulariser tau of the paper."""


def _trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "loss_type": ["ipo"], "precompute_ref_log_probs": cfg.precompute_ref}


SPEC = TrlObjective(
    name="ipo",
    schema=IPOConfig,
    record=PreferencePair,
    family="policy",
    summary="Identity preference optimisation: a squared loss towards a fixed margin 1/(2 tau)",
    paper="Azar et al. 2023, arXiv:2310.12036",
    trl_trainer="DPOTrainer",
    trl_args=_trl_args,
    needs=with_reference,
)
