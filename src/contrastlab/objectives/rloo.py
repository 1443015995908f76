"""RLOO: REINFORCE with a leave-one-out baseline, run by TRL's RLOOTrainer on the run's reward (`reward=...`).

For each prompt the policy samples k = `num_generations` completions; completion i's advantage is its reward minus
the mean reward of the other k - 1 (an unbiased baseline), with a KL penalty beta KL(pi || pi_ref) folded into the
reward (beta = 0 drops the reference); the update is PPO-clipped (`epsilon`) as TRL 1.16 implements it.
Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback
in LLMs", https://arxiv.org/abs/2402.14740
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.prompt import Prompt
from contrastlab.objectives.on_policy import (GroupSamplingConfig, OnPolicyObjective, group_args, group_needs,
                                              group_problem, whole_groups)  # fmt: skip


@dataclass
class RLOOConfig(GroupSamplingConfig):
    """RLOO (k = num_generations: each sample's baseline is the other k - 1; beta 0.05 is TRL's default)."""

    normalize_advantages: bool = False  # advantages scaled to mean 0, std 1 over each generation batch


def check(cfg):
    return group_problem(cfg, "a leave-one-out baseline")


def trl_args(cfg) -> dict:
    return {**group_args(cfg), "normalize_advantages": cfg.normalize_advantages}


SPEC = OnPolicyObjective(
    name="rloo",
    schema=RLOOConfig,
    record=Prompt,
    family="policy",
    summary="REINFORCE leave-one-out on the policy's own samples, scored by reward=",
    paper="Ahmadian et al. 2024, arXiv:2402.14740",
    trl_trainer="RLOOTrainer",
    trl_args=trl_args,
    needs=group_needs,
    check=check,
    check_run=whole_groups,
    uses_beta=False,
)
