"""ORPO: odds-ratio preference optimisation, reference-free, run by TRL's ORPOTrainer (trl.experimental).

Loss: NLL(y_w|x) - lambda * log sigma(log odds(y_w|x) - log odds(y_l|x)), with lambda = `beta`.
Hong et al. 2024, https://arxiv.org/abs/2403.07691
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ObjectiveConfig
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class ORPOConfig(ObjectiveConfig):
    """ORPO; `beta` is the weight lambda of the odds-ratio term."""


def _trl_args(cfg) -> dict:
    return {"beta": cfg.beta}


SPEC = TrlObjective(
    name="orpo",
    schema=ORPOConfig,
    record=PreferencePair,
    family="policy",
    summary="Odds-ratio preference optimisation: SFT plus an odds-ratio term, no reference",
    paper="Hong et al. 2024, arXiv:2403.07691",
    trl_trainer="ORPOTrainer",
    trl_args=_trl_args,
)
