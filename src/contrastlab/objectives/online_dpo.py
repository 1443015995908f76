"""Online DPO: DPO on pairs the current policy writes, run by TRL's experimental OnlineDPOTrainer with the run's
reward (`reward=...`) as its judge.

For each prompt the policy samples two completions; the one the reward scores higher is chosen, and the DPO loss
(`loss_type`: sigmoid, or ipo) on that pair updates the policy against the frozen initial policy as reference.
Guo et al. 2024, "Direct Language Model Alignment from Online AI Feedback", https://arxiv.org/abs/2402.04792
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.prompt import Prompt
from contrastlab.objectives.base import Needs, ObjectiveConfig
from contrastlab.objectives.on_policy import OnPolicyObjective, vllm_args, vllm_problem

LOSS_TYPES = ("sigmoid", "ipo")


@dataclass
class OnlineDPOConfig(ObjectiveConfig):
    """Online DPO."""

    max_completion_length: int = 32  # tokens a sampled completion has at most
    use_vllm: bool = False  # generate with TRL's vLLM path (colocated; a CUDA GPU and pip install '.[vllm]')
    temperature: float = 1.0  # sampling temperature of the two completions
    loss_type: str = "sigmoid"  # DPO's sigmoid loss | ipo
    missing_eos_penalty: float = 0.0  # subtracted from the reward of a completion that does not end; 0 = none


def check(cfg):
    if cfg.loss_type not in LOSS_TYPES:
        return f"objective.loss_type={cfg.loss_type} is not one of online DPO's: {', '.join(LOSS_TYPES)}"
    if cfg.max_completion_length < 1 or cfg.temperature <= 0:
        return "objective.max_completion_length must be at least 1 and objective.temperature positive"
    return None


def trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "max_new_tokens": cfg.max_completion_length, "temperature": cfg.temperature,
            "loss_type": cfg.loss_type, "top_k": 0, "top_p": 1.0, **vllm_args(cfg),
            "missing_eos_penalty": cfg.missing_eos_penalty or None}  # fmt: skip


SPEC = OnPolicyObjective(
    name="online_dpo",
    schema=OnlineDPOConfig,
    record=Prompt,
    family="policy",
    summary="DPO on pairs of the policy's own samples, the higher-reward one chosen (reward=)",
    paper="Guo et al. 2024, arXiv:2402.04792",
    trl_trainer="OnlineDPOTrainer",
    trl_args=trl_args,
    needs=lambda cfg: Needs(reward=True, reference=True),
    check=check,
    check_run=vllm_problem,
)
