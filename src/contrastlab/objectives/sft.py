"""SFT: supervised fine-tuning on demonstrations, run by TRL's SFTTrainer.

Loss: the mean negative log-likelihood of the completion tokens given the prompt (the prompt's tokens are not
trained: TRL's `completion_only_loss`). On preference data it trains on the chosen completions, which is the first
step of the DPO paper's recipe: fine-tune on the preferred completions, then run DPO with that model as the
reference (`model.init=<the SFT run>`, or `experiment=sft_then_dpo`).
Rafailov et al. 2023, https://arxiv.org/abs/2305.18290 (section 4); Ouyang et al. 2022, arXiv:2203.02155 (SFT step)
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.demonstration import Demonstration
from contrastlab.objectives.base import ObjectiveConfig, no_needs
from contrastlab.objectives.kinds import TrlObjective


@dataclass
class SFTConfig(ObjectiveConfig):
    """Supervised fine-tuning. `beta` is unused (kept so sweeps over objectives share the key); the held-out
    evaluation measures the implicit reward margin with it, as for every policy."""

    completion_only: bool = True  # train on the completion tokens only (false: on the prompt's too)


def _trl_args(cfg) -> dict:
    return {"completion_only_loss": cfg.completion_only, "packing": False}


SPEC = TrlObjective(
    name="sft",
    schema=SFTConfig,
    record=Demonstration,
    family="policy",
    summary="Supervised fine-tuning on demonstrations (the chosen completions of pair data)",
    paper="Ouyang et al. 2022, arXiv:2203.02155; the SFT step of Rafailov et al. 2023, arXiv:2305.18290",
    trl_trainer="SFTTrainer",
    trl_args=_trl_args,
    needs=no_needs,
    uses_beta=False,
)
