"""SimNPO: NPO without a reference policy, length-normalised (as SimPO is to DPO), with a retain NLL term.

Loss: -(2/beta) * E_forget log sigma(-(beta/|y|) log pi(y|x) - gamma) + retain_weight * NLL(retain).
Fan et al. 2024, https://arxiv.org/abs/2410.07163
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.forget import Forget
from contrastlab.objectives.base import Needs, ObjectiveConfig, unlearning_problem
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class SimNPOConfig(ObjectiveConfig):
    """SimNPO (the paper's TOFU runs use beta 2.5 and gamma 0)."""

    beta: float = 2.5  # scale of the length-normalised log-likelihood
    gamma: float = 0.0  # reward margin
    retain_weight: float = 1.0  # weight of the retain-set NLL; 0 = SimNPO alone (no retain examples are run)


def _loss(cfg, records):
    from contrastlab.objectives.losses.unlearning import simnpo
    from contrastlab.objectives.trainers.preference import SequenceLoss, forget_and_retain

    beta, gamma, weight = float(cfg.beta), float(cfg.gamma), float(cfg.retain_weight)

    def fn(batch):
        forget = simnpo(batch.logps[:, 0], batch.lengths[:, 0].clamp(min=1), beta, gamma).mean()
        return forget_and_retain(batch, forget, weight)

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="simnpo",
    schema=SimNPOConfig,
    record=Forget,
    family="unlearning",
    summary="SimNPO: reference-free, length-normalised NPO, with a retain-set NLL term",
    paper="Fan et al. 2024, arXiv:2410.07163",
    loss=_loss,
    needs=lambda cfg: Needs(retain=cfg.retain_weight > 0),
    check=unlearning_problem,
)
