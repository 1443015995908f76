"""SimCSE: contrastive sentence embeddings, run by our embedding trainer.

Unsupervised: each sentence is its own positive, seen through two dropout masks (plain sentences adapt by
themselves); supervised: the NLI entailment is the positive and the contradiction a hard negative. Either
way the loss is InfoNCE with cosine similarity and temperature tau = 0.05:
-log( e^{s(h_i, h_i+)/tau} / sum_j (e^{s(h_i, h_j+)/tau} + e^{s(h_i, h_j-)/tau}) ).
Gao, Yao and Chen 2021, arXiv:2104.08821
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.objectives.base import EmbeddingObjectiveConfig, temperature_problem
from contrastlab.objectives.kinds import EmbeddingObjective


@dataclass
class SimCSEConfig(EmbeddingObjectiveConfig):
    """SimCSE (unsupervised with plain sentences, supervised with NLI triplets)."""

    temperature: float = 0.05  # tau of the paper
    hard_negative_weight: float = 0.0  # added to the logit of each anchor's own hard negative (paper's appendix)


def _simcse(anchor, positive, negative=None, scale=20.0, weight=0.0):
    from contrastlab.objectives.losses.infonce import info_nce

    weight = weight if negative is not None else 0.0  # the weight applies only when there are hard negatives
    return info_nce(anchor, positive, negative, scale=scale, hard_negative_weight=weight)


def _loss_head(cfg):
    from contrastlab.objectives.trainers.embedding import LossHead

    return LossHead(functools.partial(_simcse, weight=cfg.hard_negative_weight), temperature=cfg.temperature)


SPEC = EmbeddingObjective(
    name="simcse",
    schema=SimCSEConfig,
    record=SentencePair,
    family="embedding",
    summary="SimCSE: dropout views as positives (unsupervised) or NLI entailment/contradiction (supervised)",
    paper="Gao et al. 2021, arXiv:2104.08821",
    loss_head=_loss_head,
    check=temperature_problem,
)
