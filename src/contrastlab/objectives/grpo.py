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
from contrastlab.objectives.base import Needs, ObjectiveConfig
from contrastlab.objectives.on_policy import OnPolicyObjective, vllm_args, whole_groups

LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo")
SCALINGS = ("group", "batch", "none")


@dataclass
class GRPOConfig(ObjectiveConfig):
    """GRPO."""

    beta: float = 0.04  # the KL penalty's weight against the reference (the initial policy); 0 = no reference
    num_generations: int = 4  # G: completions sampled per prompt (the group of the relative advantage)
    max_completion_length: int = 32  # tokens a sampled completion has at most
    use_vllm: bool = False  # generate with TRL's vLLM path (colocated; a CUDA GPU and pip install '.[vllm]')
    temperature: float = 1.0  # sampling temperature of the completions
    loss_type: str = "dapo"  # how token losses are averaged: grpo, dr_grpo, dapo (TRL's default), bnpo, cispo, sapo, luspo
    scale_rewards: str = "group"  # advantages divided by the reward's std in the group | batch | none
    epsilon: float = 0.2  # PPO's clip range of the importance ratio
    num_iterations: int = 1  # updates on each generation batch (mu)


def check(cfg):
    if cfg.beta < 0:
        return f"objective.beta={cfg.beta} weighs the KL penalty: give 0 (none) or more"
    if cfg.loss_type not in LOSS_TYPES:
        return f"objective.loss_type={cfg.loss_type} is not one of TRL's GRPO losses: {', '.join(LOSS_TYPES)}"
    if cfg.scale_rewards not in SCALINGS:
        return f"objective.scale_rewards={cfg.scale_rewards} must be one of {', '.join(SCALINGS)}"
    if cfg.num_generations < 2:
        return f"objective.num_generations={cfg.num_generations}: the relative advantage needs a group of at least 2"
    if cfg.max_completion_length < 1 or cfg.temperature <= 0 or cfg.num_iterations < 1:
        return "objective.max_completion_length and objective.num_iterations must be at least 1, temperature positive"
    return None


def trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "num_generations": cfg.num_generations,
            "max_completion_length": cfg.max_completion_length, "temperature": cfg.temperature,
            "loss_type": cfg.loss_type, "scale_rewards": cfg.scale_rewards, "epsilon": cfg.epsilon,
            "num_iterations": cfg.num_iterations, "top_k": 0, "top_p": 1.0, **vllm_args(cfg)}  # fmt: skip


def needs(cfg) -> Needs:
    return Needs(reward=True, reference=cfg.beta > 0)


@dataclass(frozen=True, kw_only=True)
class GRPO(OnPolicyObjective):
    def reward_scale(self, cfg) -> float:
        return cfg.beta if cfg.beta > 0 else 1.0  # the held-out pairs' implicit reward: the log-ratio when beta = 0


SPEC = GRPO(
    name="grpo",
    schema=GRPOConfig,
    record=Prompt,
    family="policy",
    summary="group relative policy optimisation on the policy's own samples, scored by reward=",
    paper="Shao et al. 2024, arXiv:2402.03300",
    trl_trainer="GRPOTrainer",
    trl_args=trl_args,
    needs=needs,
    check=check,
    check_run=whole_groups,
    uses_beta=False,
)
