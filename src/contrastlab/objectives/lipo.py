"""LiPO-lambda: listwise preference optimisation with LambdaLoss weights over a ranked list of completions.

Loss per list: sum over pairs psi_i > psi_j of Delta_ij * -log sigma(s_i - s_j), divided by the number of such
pairs; s = beta * (log pi(y|x) - log ref(y|x)), psi the records' scores, Delta_ij = |G_i - G_j| *
|1/D(tau_i) - 1/D(tau_j)| with gains G = 2^psi - 1 and discounts D(tau) = log2(1 + tau) at the ranks tau the
policy's scores give. `weighting=none` sets Delta = 1: a two-item list is then exactly DPO.

The gains are exponential in psi, so psi must be on the paper's scale (labels in [0, 1]): with raw ratings of 8
and 2 the gains are 255 and 3 and the loss of one pair at the start is 64.5 (252 x 0.369 x ln 2) where DPO's is
ln 2. `score_scale=dataset` (the default) maps the training records' scores to [0, 1] by the data's minimum and
maximum, the same map for every list, so a larger gap still weighs more; `score_scale=none` takes the scores as
they are (already in [0, 1]).
Liu et al. 2024, https://arxiv.org/abs/2402.01878
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contrastlab.data.records.ranked import Ranked
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective

Weighting = StrEnum("Weighting", {"lambda": "lambda", "none": "none"})
ScoreScale = StrEnum("ScoreScale", {"dataset": "dataset", "none": "none"})


@dataclass
class LiPOConfig(ReferenceObjectiveConfig):
    """LiPO-lambda."""

    weighting: Weighting = Weighting["lambda"]  # lambda (LiPO-lambda) | none (equal weights: each pair a DPO term)
    score_scale: ScoreScale = ScoreScale.dataset  # dataset: scores mapped to [0, 1] by the training data's min and
    #                                               max (the gains 2^psi - 1 expect labels in [0, 1]) | none: as given


def score_map(records, scale: str) -> tuple[float, float]:
    """(low, span): psi = (score - low) / span maps the records' scores to [0, 1] (`dataset`), or leaves them (`none`,
    and data whose scores are all equal)."""
    values = [float(v) for r in records for v in r.scores]
    if scale == "none" or not values or max(values) == min(values):
        return 0.0, 1.0
    return min(values), max(values) - min(values)


def _loss(cfg, records):
    from contrastlab.objectives.losses.listwise import lipo
    from contrastlab.objectives.trainers.preference import SequenceLoss

    beta, weighting = float(cfg.beta), str(cfg.weighting)
    low, span = score_map(records, str(cfg.score_scale))

    def fn(batch):
        scores = beta * batch.logratios  # (B, K)
        psi = (batch.extras["scores"] - low) / span
        loss, valid = lipo(scores, psi, batch.present, weighting=weighting)
        s, present = scores.detach(), batch.present
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
