"""LiPO-lambda: listwise preference optimisation with LambdaLoss weights over a ranked list of completions.

Loss per list: sum over pairs psi_i > psi_j of Delta_ij * -log sigma(s_i - s_j), divided by the number of such
pairs; s = beta * (log pi(y|x) - log ref(y|x)), psi the records' scores, Delta_ij = |G_i - G_j| *
|1/D(tau_i) - 1/D(tau_j)| with gains G = 2^psi - 1 and discounts D(tau) = log2(1 + tau) at the ranks tau the
policy's scores give. `weighting=none` sets Delta = 1: a two-item list is then exactly DPO.
Liu et al. 2024, https://arxiv.org/abs/2402.01878
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contrastlab.data.records.ranked import Ranked
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective

Weighting = StrEnum("Weighting", {"lambda": "lambda", "none": "none"})


@dataclass
class LiPOConfig(ReferenceObjectiveConfig):
    """LiPO-lambda."""

    weighting: Weighting = Weighting["lambda"]  # lambda (LiPO-lambda) | none (equal weights: each pair a DPO term)


def _loss(cfg, records):
    from contrastlab.objectives.losses.listwise import lipo
    from contrastlab.objectives.trainers.preference import SequenceLoss

    beta, weighting = float(cfg.beta), str(cfg.weighting)

    def fn(batch):
        scores = beta * batch.logratios  # (B, K)
        loss, valid = lipo(scores, batch.extras["scores"], batch.present, weighting=weighting)
        s, psi, present = scores.detach(), batch.extras["scores"], batch.present
        ordered = (psi[:, :, None] > psi[:, None, :]) & present[:, :, None] & present[:, None, :]  # (B, K, K)
        right = (s[:, :, None] > s[:, None, :]) & ordered
        metrics = {"rewards/accuracies": (right.sum() / ordered.sum().clamp(min=1)).item(),
                   "lists/valid": valid.float().mean().item(), "lists/size": present.sum(-1).float().mean().item()}
        return (loss * valid).sum() / valid.sum().clamp(min=1), metrics

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="lipo",
    schema=LiPOConfig,
    record=Ranked,
    family="policy",
    summary="LiPO-lambda: pairwise logistic terms over a ranked list, weighted by LambdaLoss NDCG weights",
    paper="Liu et al. 2024, arXiv:2402.01878",
    loss=_loss,
    needs=with_reference,
)
