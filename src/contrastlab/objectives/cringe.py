"""Pairwise Cringe: NLL on the chosen completion plus the Cringe loss on the rejected one, gated by a soft margin.

Loss: -mean_t log pi(y_w,t) + alpha * g * Cringe(y_l), g = sigma((b - [log pi(y_w|x) - log pi(y_l|x)]) / tau),
Cringe(y_l) = mean_t softplus(log pi(y_l,t) - log pi(c_t)): each rejected token is contrasted with a positive
token c_t drawn from the policy's top-k predictions at that position (the rejected token excluded). The gate
applies the Cringe term only while the chosen does not yet beat the rejected by the margin b. Reference-free.
Xu et al. 2023, https://arxiv.org/abs/2312.16682 (Cringe loss: Adolphs et al. 2022, arXiv:2211.05826)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import Needs, ObjectiveConfig
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class PairwiseCringeConfig(ObjectiveConfig):
    """Pairwise Cringe. `beta` scales only the reported implicit rewards (beta * log-prob)."""

    alpha: float = 1.0  # weight of the Cringe term on the rejected completion
    margin: float = 0.0  # b: the log-likelihood margin of chosen over rejected beyond which the gate closes
    temperature: float = 1.0  # tau: softness of the gate
    topk: int = 5  # positive tokens are drawn from the policy's top-k predictions (CRINGE uses 5)


def _check(cfg) -> Optional[str]:
    if cfg.temperature <= 0:
        return f"objective.temperature={cfg.temperature} must be positive (it divides the gate's margin)"
    if cfg.topk < 2:
        return f"objective.topk={cfg.topk} must be at least 2 (a positive other than the rejected token is needed)"
    if cfg.alpha < 0:
        return f"objective.alpha={cfg.alpha} must be at least 0"
    return None


def _loss(cfg, records):
    import torch

    from contrastlab.objectives.losses.cringe import cringe_token_loss, pairwise_cringe, sample_positive
    from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics

    alpha, margin, tau, beta = float(cfg.alpha), float(cfg.margin), float(cfg.temperature), float(cfg.beta)

    def fn(batch):
        mask = batch.mask.float()  # (B, 2, T-1)
        chosen_nll = -(batch.token_logps[:, 0] * mask[:, 0]).sum(-1) / mask[:, 0].sum(-1).clamp(min=1)  # (B,)
        negative = batch.token_logps[:, 1]  # (B, T-1)
        noise = torch.rand(negative.shape, device=negative.device)
        positive = sample_positive(batch.topk_logps[:, 1], batch.topk_ids[:, 1], batch.labels[:, 1], noise)
        cringe = cringe_token_loss(negative, positive, mask[:, 1])  # (B,)
        loss = pairwise_cringe(batch.logps[:, 0], batch.logps[:, 1], chosen_nll, cringe, margin, tau, alpha)
        metrics = {**pair_metrics(batch, beta), "nll/chosen": chosen_nll.mean().item(),
                   "cringe/rejected": cringe.mean().item()}  # fmt: skip
        return loss.mean(), metrics

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="cringe",
    schema=PairwiseCringeConfig,
    record=PreferencePair,
    family="policy",
    summary="Pairwise Cringe: NLL on chosen plus a margin-gated token-level Cringe loss on rejected",
    paper="Xu et al. 2023, arXiv:2312.16682",
    loss=_loss,
    needs=lambda cfg: Needs(topk=int(cfg.topk)),
    check=_check,
)
