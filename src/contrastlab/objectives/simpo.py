"""SimPO: simple preference optimisation, reference-free and length-normalised, run by TRL's CPOTrainer.

Loss: -log sigma(beta/|y_w| log pi(y_w|x) - beta/|y_l| log pi(y_l|x) - gamma).
Meng et al. 2024, https://arxiv.org/abs/2405.14734
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ObjectiveConfig
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class SimPOConfig(ObjectiveConfig):
    """SimPO (the paper uses beta 2 to 2.5 and gamma/beta 0.3 to 0.5)."""

    beta: float = 2.0  # scale of the length-normalised reward
    gamma: float = 1.0  # target reward margin (TRL's simpo_gamma)
    alpha: float = 0.0  # weight of an NLL term on chosen (0 = pure SimPO; > 0 = CPO-SimPO)


def _trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "loss_type": "simpo", "simpo_gamma": cfg.gamma, "cpo_alpha": cfg.alpha}


SPEC = TrlObjective(
    name="simpo",
    schema=SimPOConfig,
    record=PreferencePair,
    family="policy",
    summary="Simple preference optimisation: length-normalised, reference-free, with a target margin",
    paper="Meng et al. 2024, arXiv:2405.14734",
    trl_trainer="CPOTrainer",
    trl_args=_trl_args,
)
