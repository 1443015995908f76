"""JPO: joint preference optimisation, DPO over pairs whose chosen and rejected answers have different prompts.

Loss: -log sigma(beta * [(log pi(y_w|x_w) - log ref(y_w|x_w)) - (log pi(y_l|x_l) - log ref(y_l|x_l))]): DPO's
sigmoid loss with each answer's log-ratio taken under its own prompt; with one prompt for both it is DPO. Trained on
joint pairs (`JointPair`: data=rt_joint, or data=jsonl with chosen_prompt, chosen, rejected_prompt, rejected).
Bansal et al. 2024, "Comparing Bad Apples to Good Oranges: Aligning Large Language Models via Joint Preference
Optimization", arXiv:2404.00530
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.joint_pair import JointPair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class JPOConfig(ReferenceObjectiveConfig):
    """JPO."""


def _loss(cfg, records):
    from contrastlab.objectives.losses.pairwise import dpo_sigmoid
    from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics

    beta = float(cfg.beta)

    def fn(batch):
        ratios = batch.logratios  # (B, 2): each answer under its own prompt
        return dpo_sigmoid(ratios[:, 0], ratios[:, 1], beta).mean(), pair_metrics(batch, beta)

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="jpo",
    schema=JPOConfig,
    record=JointPair,
    family="policy",
    summary="Joint preference optimisation: DPO over answers to different prompts",
    paper="Bansal et al. 2024, arXiv:2404.00530",
    loss=_loss,
    needs=with_reference,
)
