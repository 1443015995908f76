"""cDPO: conservative DPO, DPO with label smoothing for preference labels flipped with probability epsilon.

Loss: (1 - eps) * l(beta h) + eps * l(-beta h), l(z) = -log sigma(z), h the DPO log-ratio margin; eps = 0 is DPO.
Ours: TRL 1.16's `label_smoothing` serves only its `robust` and `exo_pair` losses, not `sigmoid`.
Mitchell 2023, "A note on DPO with noisy preferences & relationship to IPO", https://ericmitchell.ai/cdpo.pdf
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class ConservativeDPOConfig(ReferenceObjectiveConfig):
    """Conservative DPO."""

    label_smoothing: float = 0.1  # eps: assumed probability that a preference label is flipped, in [0, 0.5)


def _check(cfg) -> Optional[str]:
    if not 0.0 <= cfg.label_smoothing < 0.5:
        return f"objective.label_smoothing={cfg.label_smoothing} must lie in [0, 0.5) (0.5 carries no preference)"
    return None


def _loss(cfg, records):
    from contrastlab.objectives.losses.pairwise import cdpo
    from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics

    beta, eps = float(cfg.beta), float(cfg.label_smoothing)

    def fn(batch):
        ratios = batch.logratios  # (B, 2)
        return cdpo(ratios[:, 0], ratios[:, 1], beta, eps).mean(), pair_metrics(batch, beta)

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="cdpo",
    schema=ConservativeDPOConfig,
    record=PreferencePair,
    family="policy",
    summary="Conservative DPO: the sigmoid DPO loss with label smoothing for noisy preference labels",
    paper="Mitchell 2023, https://ericmitchell.ai/cdpo.pdf",
    loss=_loss,
    needs=with_reference,
    check=_check,
)
