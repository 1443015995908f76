"""CPO: contrastive preference optimisation, reference-free, run by TRL's CPOTrainer (trl.experimental).

Loss: -log sigma(beta (log pi(y_w|x) - log pi(y_l|x))) + alpha * NLL(y_w|x).
Xu et al. 2024, https://arxiv.org/abs/2401.08417
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ObjectiveConfig
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class CPOConfig(ObjectiveConfig):
    """CPO."""

    alpha: float = 1.0  # weight of the NLL term on the chosen completion (TRL's cpo_alpha)


def _trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "loss_type": "sigmoid", "cpo_alpha": cfg.alpha}


SPEC = TrlObjective(
    name="cpo",
    schema=CPOConfig,
    record=PreferencePair,
    family="policy",
    summary="Contrastive preference optimisation: reference-free sigmoid loss plus NLL on chosen",
    paper="Xu et al. 2024, arXiv:2401.08417",
    trl_trainer="CPOTrainer",
    trl_args=_trl_args,
)
