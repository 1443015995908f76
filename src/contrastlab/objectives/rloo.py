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
from contrastlab.objectives.base import Needs, ObjectiveConfig
from contrastlab.objectives.on_policy import OnPolicyObjective, vllm_args, whole_groups


@dataclass
class RLOOConfig(ObjectiveConfig):
    """RLOO."""

    beta: float = 0.05  # the KL penalty's weight against the reference (TRL's default); 0 = no reference
    num_generations: int = 4  # k: completions sampled per prompt (each one's baseline is the other k - 1)
    max_completion_length: int = 32  # tokens a sampled completion has at most
    use_vllm: bool = False  # generate with TRL's vLLM path (colocated; a CUDA GPU and pip install '.[vllm]')
    temperature: float = 1.0  # sampling temperature of the completions
    epsilon: float = 0.2  # PPO's clip range of the importance ratio
    normalize_advantages: bool = False  # advantages scaled to mean 0, std 1 over each generation batch
    num_iterations: int = 1  # updates on each generation batch


def check(cfg):
    if cfg.beta < 0:
        return f"objective.beta={cfg.beta} weighs the KL penalty: give 0 (none) or more"
    if cfg.num_generations < 2:
        return f"objective.num_generations={cfg.num_generations}: a leave-one-out baseline needs at least 2 samples"
    if cfg.max_completion_length < 1 or cfg.temperature <= 0 or cfg.num_iterations < 1:
        return "objective.max_completion_length and objective.num_iterations must be at least 1, temperature positive"
    return None


def trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "num_generations": cfg.num_generations,
            "max_completion_length": cfg.max_completion_length, "temperature": cfg.temperature,
            "epsilon": cfg.epsilon, "normalize_advantages": cfg.normalize_advantages,
            "num_iterations": cfg.num_iterations, "top_k": 0, "top_p": 1.0, **vllm_args(cfg)}  # fmt: skip


def needs(cfg) -> Needs:
    return Needs(reward=True, reference=cfg.beta > 0)


@dataclass(frozen=True, kw_only=True)
class RLOO(OnPolicyObjective):
    def reward_scale(self, cfg) -> float:
        return cfg.beta if cfg.beta > 0 else 1.0


SPEC = RLOO(
    name="rloo",
    schema=RLOOConfig,
    record=Prompt,
    family="policy",
    summary="REINFORCE leave-one-out on the policy's own samples, scored by reward=",
    paper="Ahmadian et al. 2024, arXiv:2402.14740",
    trl_trainer="RLOOTrainer",
    trl_args=trl_args,
    needs=needs,
    check=check,
    check_run=whole_groups,
    uses_beta=False,
)
