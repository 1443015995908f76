"""ODPO: DPO with an offset, so that pairs far apart in score must be separated by a larger margin.

Loss: -log sigma(beta * h - alpha * log(s_w - s_l)), h the DPO log-ratio margin, s the records' scores
(as the ODPO reference code computes the offset); alpha = 0 is DPO. Needs scored pairs with s_w > s_l
(data=rt_ranked gives graded ones; `data=jsonl` takes score_chosen / score_rejected columns).
Amini et al. 2024, https://arxiv.org/abs/2402.10571
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class ODPOConfig(ReferenceObjectiveConfig):
    """ODPO."""

    alpha: float = 1.0  # scale of the offset alpha * log(score gap); 0 = DPO (the paper's default is 1)


def _check(cfg) -> Optional[str]:
    if cfg.alpha < 0:
        return f"objective.alpha={cfg.alpha} must be at least 0 (0 is plain DPO)"
    return None


def _check_records(cfg, records) -> Optional[str]:
    for index, pair in enumerate(records):
        if pair.score_chosen is None or pair.score_rejected is None:
            return (f"objective=odpo needs scored pairs but training pair {index} has no score_chosen/score_rejected; "
                    "use data=rt_ranked, or a file with score_chosen and score_rejected columns")
        if not pair.score_chosen > pair.score_rejected:
            return (f"objective=odpo needs score_chosen > score_rejected (the offset is log of their gap) but training "
                    f"pair {index} has {pair.score_chosen} <= {pair.score_rejected}; fix or drop that pair")
    return None


def _loss(cfg, records):
    from contrastlab.objectives.losses.pairwise import odpo, odpo_offset
    from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics

    beta, alpha = float(cfg.beta), float(cfg.alpha)

    def fn(batch):
        ratios = batch.logratios  # (B, 2)
        offset = odpo_offset(batch.extras["scores"][:, 0], batch.extras["scores"][:, 1], alpha)  # (B,)
        metrics = {**pair_metrics(batch, beta), "offset": offset.mean().item()}
        return odpo(ratios[:, 0], ratios[:, 1], offset, beta).mean(), metrics

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="odpo",
    schema=ODPOConfig,
    record=PreferencePair,
    family="policy",
    summary="DPO with an offset: the margin must grow with the log of the pair's score gap",
    paper="Amini et al. 2024, arXiv:2402.10571",
    loss=_loss,
    needs=lambda cfg: with_reference(cfg, scores=True),
    check=_check,
    check_records=_check_records,
)
