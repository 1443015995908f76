"""NPO: negative preference optimisation, for unlearning a forget set while an NLL term keeps a retain set.

Loss: (2/beta) * E_forget log(1 + (pi(y|x) / ref(y|x))^beta) + retain_weight * NLL(retain), the NLL a mean over
retain tokens. The forget term is DPO's loss with the forget example as the rejected completion and no
chosen one; it falls more slowly than gradient ascent (its beta -> 0 limit), which collapses the model.
Zhang et al. 2024, https://arxiv.org/abs/2404.05868
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.forget import Forget
from contrastlab.objectives.base import ReferenceObjectiveConfig, unlearning_problem, with_reference
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class NPOConfig(ReferenceObjectiveConfig):
    """NPO (the paper's TOFU runs use beta 0.1 and a retain NLL term: NPO-RT)."""

    retain_weight: float = 1.0  # weight of the retain-set NLL; 0 = NPO alone (no retain examples are run)


def _loss(cfg, records):
    from contrastlab.objectives.losses.unlearning import npo
    from contrastlab.objectives.trainers.preference import SequenceLoss, forget_and_retain

    beta, weight = float(cfg.beta), float(cfg.retain_weight)

    def fn(batch):
        loss, metrics = forget_and_retain(batch, npo(batch.logratios[:, 0], beta).mean(), weight)
        return loss, {**metrics, "logratio/forget": batch.logratios[:, 0].detach().mean().item()}

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="npo",
    schema=NPOConfig,
    record=Forget,
    family="unlearning",
    summary="Negative preference optimisation: unlearn a forget set, with a retain-set NLL term",
    paper="Zhang et al. 2024, arXiv:2404.05868",
    loss=_loss,
    needs=lambda cfg: with_reference(cfg, retain=cfg.retain_weight > 0),
    check=unlearning_problem,
)
