"""GRPO: group relative policy optimisation, run by TRL's GRPOTrainer on the run's reward (`reward=...`).

For each prompt x the policy samples G = `num_generations` completions y_1..y_G; each gets the advantage
A_i = (r_i - mean(r)) / std(r) within its group (`scale_rewards`), and the policy maximises the clipped
importance-weighted advantage of every token (PPO's clip, `epsilon`) minus beta KL(pi || pi_ref) (the k3
estimator; beta = 0 drops the reference). `loss_type` is how token losses are averaged (TRL 1.16: grpo, dr_grpo,
dapo, bnpo, cispo, sapo, luspo). A step of `train.batch_size` completions covers batch_size / G prompts.
Shao et al. 2024 (DeepSeekMath), https://arxiv.org/abs/2402.03300
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.prompt import Prompt
from contrastlab.objectives.on_policy import (GroupSamplingConfig, OnPolicyObjective, group_args, group_needs,
                                              group_problem, whole_groups)  # fmt: skip

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo")
SCALINGS = ("group", "batch", "none")


@dataclass
class GRPOConfig(GroupSamplingConfig):
    """GRPO (G = num_generations, the group of the relative advantage)."""

    beta: float = 0.04  # the KL penalty's weight against the reference (the initial policy); 0 = no reference
    loss_type: str = "dapo"  # how token losses are averaged: grpo, dr_grpo, dapo (TRL's default), bnpo, cispo, sapo, luspo
    scale_rewards: str = "group"  # advantages divided by the reward's std in the group | batch | none


def check(cfg):
    if cfg.loss_type not in LOSS_TYPES:
        return f"objective.loss_type={cfg.loss_type} is not one of TRL's GRPO losses: {', '.join(LOSS_TYPES)}"
    if cfg.scale_rewards not in SCALINGS:
        return f"objective.scale_rewards={cfg.scale_rewards} must be one of {', '.join(SCALINGS)}"
    return group_problem(cfg, "the relative advantage")


def trl_args(cfg) -> dict:
    return {**group_args(cfg), "loss_type": cfg.loss_type, "scale_rewards": cfg.scale_rewards}


SPEC = OnPolicyObjective(
    name="grpo",
    schema=GRPOConfig,
    record=Prompt,
    family="policy",
    summary="group relative policy optimisation on the policy's own samples, scored by reward=",
    paper="Shao et al. 2024, arXiv:2402.03300",
    trl_trainer="GRPOTrainer",
    trl_args=trl_args,
    needs=group_needs,
    check=check,
    check_run=whole_groups,
    uses_beta=False,
)
