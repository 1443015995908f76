"""InfoNCE with in-batch negatives (a.k.a. multiple negatives ranking loss), run by our embedding trainer.

Loss: -log( e^{s(a_i, p_i)/tau} / sum_j e^{s(a_i, c_j)/tau} ), c = every positive of the batch and every hard
negative, s = cosine similarity. Optional: hard negatives (a third column), a symmetric term (positives
against anchors, as in CLIP), and a learnable scale 1/tau (CLIP's log-parameterised logit scale).
van den Oord et al. 2018, arXiv:1807.03748; Henderson et al. 2017, arXiv:1705.00652
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.objectives.base import EmbeddingObjectiveConfig, temperature_problem
from contrastlab.objectives.kinds import EmbeddingObjective


@dataclass
class InfoNCEConfig(EmbeddingObjectiveConfig):
    """InfoNCE / multiple negatives ranking."""

    temperature: float = 0.05  # tau; the similarity scale is 1 / tau (sentence-transformers' scale 20 = tau 0.05)
    learn_scale: bool = False  # learn log(1 / tau) from `temperature` on, clamped at scale 100 (CLIP)
    symmetric: bool = False  # add the positive -> anchors term and average the two


def _loss_head(cfg):
    from contrastlab.objectives.losses.infonce import info_nce
    from contrastlab.objectives.trainers.embedding import LossHead

    fn = functools.partial(info_nce, symmetric=cfg.symmetric)
    return LossHead(fn, temperature=cfg.temperature, learn_scale=cfg.learn_scale)


SPEC = EmbeddingObjective(
    name="infonce",
    schema=InfoNCEConfig,
    record=SentencePair,
    family="embedding",
    summary="InfoNCE over in-batch (and hard) negatives; symmetric and learnable-temperature options",
    paper="van den Oord et al. 2018, arXiv:1807.03748",
    loss_head=_loss_head,
    check=temperature_problem,
)
