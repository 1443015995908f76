"""Reward model: a Bradley-Terry scalar scorer, run by TRL's RewardTrainer.

Loss: -log sigma(r(x, y_w) - r(x, y_l) - m), with margin m = score_chosen - score_rejected when
`margin=true` and the data has scores (Llama 2's margin loss), else 0.
Bradley and Terry 1952; Ouyang et al. 2022, https://arxiv.org/abs/2203.02155; Touvron et al. 2023 (margin)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import Needs, ObjectiveConfig
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class RewardConfig(ObjectiveConfig):
    """Reward model. `beta` is unused (kept so sweeps over objectives share the key)."""

    margin: bool = False  # subtract the data's score difference from the reward gap
    center_rewards: Optional[float] = None  # weight of a penalty pushing mean rewards to 0 (Eisenstein et al. 2023)


def _trl_args(cfg) -> dict:
    return {"center_rewards_coefficient": cfg.center_rewards}


SPEC = TrlObjective(
    name="reward",
    schema=RewardConfig,
    record=PreferencePair,
    family="reward",
    summary="Bradley-Terry reward model with an optional score margin",
    paper="Ouyang et al. 2022, arXiv:2203.02155; margin: Touvron et al. 2023, arXiv:2307.09288",
    trl_trainer="RewardTrainer",
    trl_args=_trl_args,
    needs=lambda cfg: Needs(scores=bool(cfg.margin)),
    uses_beta=False,
)
