"""Online DPO: DPO on pairs the current policy writes, run by TRL's experimental OnlineDPOTrainer with the run's
reward (`reward=...`) as its judge.

For each prompt the policy samples two completions; the one the reward scores higher is chosen, and the DPO loss
(`loss_type`: sigmoid, or ipo) on that pair updates the policy against the frozen initial policy as reference.
Guo et al. 2024, "Direct Language Model Alignment from Online AI Feedback", https://arxiv.org/abs/2402.04792
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.prompt import Prompt
from contrastlab.objectives.base import Needs
from contrastlab.objectives.on_policy import OnPolicyObjective, SamplingConfig, sampling_args, sampling_problem, vllm_problem

LOSS_TYPES = ("sigmoid", "ipo")


@dataclass
class OnlineDPOConfig(SamplingConfig):
    """Online DPO (two samples a prompt)."""

    loss_type: str = "sigmoid"  # DPO's sigmoid loss | ipo
    missing_eos_penalty: float = 0.0  # subtracted from the reward of a completion that does not end; 0 = none


def check(cfg):
    if cfg.loss_type not in LOSS_TYPES:
        return f"objective.loss_type={cfg.loss_type} is not one of online DPO's: {', '.join(LOSS_TYPES)}"
    return sampling_problem(cfg)


def trl_args(cfg) -> dict:
    return {"beta": cfg.beta, "max_new_tokens": cfg.max_completion_length, "loss_type": cfg.loss_type,
            "missing_eos_penalty": cfg.missing_eos_penalty or None, **sampling_args(cfg)}  # fmt: skip


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
