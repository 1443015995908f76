"""Alignment and uniformity on the hypersphere, optimised directly, run by our embedding trainer.

Loss: E ||f(a) - f(p)||^alpha + lam * (log E e^{-t ||f(a) - f(a')||^2} + the same over positives) / 2, on
L2-normalised embeddings (the paper's reference code). Hard negatives, if the data has them, are not used.
Wang and Isola 2020, arXiv:2005.10242
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.objectives.base import EmbeddingObjectiveConfig
from contrastlab.objectives.kinds import EmbeddingObjective


@dataclass
class AlignUniformConfig(EmbeddingObjectiveConfig):
    """Alignment + uniformity."""

    lam: float = 1.0  # weight of the uniformity term
    alpha: float = 2.0  # exponent of the alignment distance
    t: float = 2.0  # sharpness of the uniformity potential


def _check(cfg) -> Optional[str]:
    if cfg.alpha <= 0 or cfg.t <= 0:
        return f"objective.alpha={cfg.alpha} and objective.t={cfg.t} must both be positive"
    if cfg.lam < 0:
        return f"objective.lam={cfg.lam} must be 0 or more"
    return None


def _align_uniform(anchor, positive, negative=None, lam=1.0, alpha=2.0, t=2.0):
    from contrastlab.objectives.losses.align_uniform import align_uniform

    return align_uniform(anchor, positive, lam=lam, alpha=alpha, t=t)


def _loss_head(cfg):
    from contrastlab.objectives.trainers.embedding import LossHead

    return LossHead(functools.partial(_align_uniform, lam=cfg.lam, alpha=cfg.alpha, t=cfg.t))


SPEC = EmbeddingObjective(
    name="align_uniform",
    schema=AlignUniformConfig,
    record=SentencePair,
    family="embedding",
    summary="Alignment of positives plus uniformity of all embeddings on the hypersphere (Wang and Isola)",
    paper="Wang and Isola 2020, arXiv:2005.10242",
    loss_head=_loss_head,
    check=_check,
)
