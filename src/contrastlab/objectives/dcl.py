"""DCL: decoupled contrastive learning, run by our embedding trainer.

Loss: -s(a_i, p_i)/tau + log sum_{j != i} e^{s(a_i, c_j)/tau}: InfoNCE with the positive taken out of the
denominator, which removes the negative-positive coupling that makes InfoNCE need large batches.
Yeh et al. 2022, arXiv:2110.06848
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.objectives.base import EmbeddingObjectiveConfig, temperature_problem
from contrastlab.objectives.kinds import EmbeddingObjective


@dataclass
class DCLConfig(EmbeddingObjectiveConfig):
    """Decoupled contrastive loss."""

    temperature: float = 0.05  # tau; the similarity scale is 1 / tau
    symmetric: bool = False  # add the positive -> anchors term and average the two


def _loss_head(cfg):
    from contrastlab.objectives.losses.dcl import dcl
    from contrastlab.objectives.trainers.embedding import LossHead

    return LossHead(functools.partial(dcl, symmetric=cfg.symmetric), temperature=cfg.temperature)


SPEC = EmbeddingObjective(
    name="dcl",
    schema=DCLConfig,
    record=SentencePair,
    family="embedding",
    summary="Decoupled contrastive loss: InfoNCE with the positive removed from the denominator",
    paper="Yeh et al. 2022, arXiv:2110.06848",
    loss_head=_loss_head,
    check=temperature_problem,
)
