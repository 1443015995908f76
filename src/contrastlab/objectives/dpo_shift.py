"""DPO-Shift: DPO with a factor lambda < 1 on the rejected log-ratio, against likelihood displacement.

Loss: -log sigma(beta * l_w - lambda * beta * l_l), l = log pi(y|x) - log ref(y|x); lambda = 1 is DPO.
Lowering lambda trades reward accuracy for a chosen likelihood that no longer falls during training.
Yang et al. 2025, https://arxiv.org/abs/2502.07599
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class DPOShiftConfig(ReferenceObjectiveConfig):
    """DPO-Shift with a fixed shift (the paper also schedules it; fixed is its main form)."""

    shift: float = 0.95  # lambda: factor on the rejected term, in (0, 1]; 1 = DPO


def _check(cfg) -> Optional[str]:
    if not 0.0 < cfg.shift <= 1.0:
        return f"objective.shift={cfg.shift} must lie in (0, 1] (1 is plain DPO; the paper uses 0.75 to 0.95)"
    return None


def _loss(cfg, records):
    from contrastlab.objectives.losses.pairwise import dpo_shift
    from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics

    beta, shift = float(cfg.beta), float(cfg.shift)

    def fn(batch):
        ratios = batch.logratios  # (B, 2)
        return dpo_shift(ratios[:, 0], ratios[:, 1], beta, shift).mean(), pair_metrics(batch, beta)

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="dpo_shift",
    schema=DPOShiftConfig,
    record=PreferencePair,
    family="policy",
    summary="DPO-Shift: DPO with a factor below 1 on the rejected term, so the chosen likelihood holds",
    paper="Yang et al. 2025, arXiv:2502.07599",
    loss=_loss,
    needs=with_reference,
    check=_check,
)
