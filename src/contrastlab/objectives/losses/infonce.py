"""InfoNCE with in-batch negatives: the contrastive loss of sentence-embedding training.

For anchors a_1..a_B, positives p_1..p_B and optional hard negatives n_1..n_B (one per anchor), every
anchor is scored against the candidates c = [p_1..p_B, n_1..n_B] with cosine similarity:

    s_ik = scale * cos(a_i, c_k)                          # (B, C), C = B or 2B
    L_fwd = mean_i [ -s_ii + log sum_k exp(s_ik) ]         # cross-entropy, target i

`scale` is 1 / temperature. Also known as the NT-Xent / SimCLR loss, "multiple negatives ranking
loss" and cross-entropy with in-batch negatives. This equals sentence-transformers'
`MultipleNegativesRankingLoss` in its default setting (directions=("query_to_doc",), joint).

symmetric=True averages in the backward term, positives against anchors only:

    L_bwd = mean_j [ -s_jj + log sum_k exp(scale * cos(p_j, a_k)) ]
    L = (L_fwd + L_bwd) / 2

Hard negatives enter only L_fwd; this is exactly sentence-transformers'
`MultipleNegativesSymmetricRankingLoss` (= MNRL with directions=("query_to_doc", "doc_to_query"),
partition_mode="per_direction"), hard negatives included.

hard_negative_weight w (SimCSE's `hard_negative_weight`, Gao et al. 2021 appendix) is added to the
logit s_{i, B+i} of anchor i's own hard negative after scaling, i.e. that candidate's exp-term is
multiplied by e^w in the denominator; w = 0 is off. It is not sentence-transformers'
`hardness_mode="hard_negatives"`, which adds `hardness_strength * stop_grad(cos)` instead of a constant.

SimCSE has no function of its own: it is this loss. Unsupervised SimCSE: the positive is a second
dropout view of the anchor, no negatives. Supervised SimCSE: positive = entailment, hard negative =
contradiction (scale 20 = temperature 0.05).

Shapes: anchor, positive, negative (B, D); returns a 0-dim tensor.
Papers: van den Oord et al. 2018, arXiv:1807.03748 (InfoNCE); Henderson et al. 2017,
arXiv:1705.00652 (in-batch negatives); Gao et al. 2021, arXiv:2104.08821 (SimCSE).
"""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F

Scale = Union[float, torch.Tensor]  # a float or a 0-dim tensor (may require grad)


def cosine_matrix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """cos(x_i, y_k) for every pair: (N, D), (M, D) -> (N, M)."""
    return F.normalize(x, p=2, dim=1) @ F.normalize(y, p=2, dim=1).T


def candidates(anchor: torch.Tensor, positive: torch.Tensor, negative: Optional[torch.Tensor]) -> torch.Tensor:
    """[p_1..p_B] or [p_1..p_B, n_1..n_B], after checking the shapes agree: (C, D)."""
    if anchor.dim() != 2 or positive.shape != anchor.shape:
        raise ValueError(f"anchor and positive must both be (B, D); got {tuple(anchor.shape)}, {tuple(positive.shape)}")
    if negative is None:
        return positive  # (B, D)
    if negative.shape != anchor.shape:
        raise ValueError(f"negative must be (B, D) like anchor {tuple(anchor.shape)}; got {tuple(negative.shape)}")
    return torch.cat([positive, negative], dim=0)  # (2B, D)


def info_nce(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: Optional[torch.Tensor] = None,
    scale: Scale = 20.0,
    symmetric: bool = False,
    hard_negative_weight: float = 0.0,
) -> torch.Tensor:
    """Mean InfoNCE loss of anchors against positives and in-batch/hard negatives (see module docstring)."""
    if hard_negative_weight != 0.0 and negative is None:
        raise ValueError("hard_negative_weight applies to hard negatives; pass `negative` or set it to 0")
    cands = candidates(anchor, positive, negative)  # (C, D)
    batch = anchor.shape[0]
    logits = scale * cosine_matrix(anchor, cands)  # (B, C)
    if hard_negative_weight != 0.0:
        own = torch.eye(batch, dtype=logits.dtype, device=logits.device)  # (B, B)
        bias = torch.cat([torch.zeros_like(own), hard_negative_weight * own], dim=1)  # (B, 2B)
        logits = logits + bias
    target = torch.arange(batch, device=anchor.device)  # (B,)
    loss = F.cross_entropy(logits, target)
    if not symmetric:
        return loss
    back = scale * cosine_matrix(positive, anchor)  # (B, B): p_j against a_k
    return (loss + F.cross_entropy(back, target)) / 2
