"""Decoupled contrastive loss (DCL): InfoNCE with the positive taken out of the denominator.

With the same candidates and scores as `info_nce`, c = [p_1..p_B, n_1..n_B] and
s_ik = scale * cos(a_i, c_k):

    L_i = -s_ii + log sum_{k != i} exp(s_ik)               # k runs over the C - 1 other candidates
    L_fwd = mean_i L_i

Per row, InfoNCE = softplus(DCL): -s_ii + log(e^{s_ii} + S_i) = log(1 + e^{L_i}), S_i the sum above.
Removing the positive decouples the gradient of the positive from that of the negatives (the
"negative-positive coupling" the paper describes); the loss can be negative.

symmetric=True, as in `info_nce`, averages in the backward term of positives against anchors:
    L_bwd = mean_j [ -s_jj + log sum_{k != j} exp(scale * cos(p_j, a_k)) ],  L = (L_fwd + L_bwd) / 2.

The paper's SimCLR form also counts the other anchors (the second view) as negatives; here the
candidates are those of `info_nce` / sentence-transformers' MultipleNegativesRankingLoss.
With B = 1 and no negatives (or symmetric=True) a denominator is empty: ValueError.

Shapes: anchor, positive, negative (B, D); returns a 0-dim tensor.
Paper: Yeh et al. 2022, "Decoupled Contrastive Learning", arXiv:2110.06848.
"""

from __future__ import annotations

from typing import Optional

import torch

from contrastlab.objectives.losses.infonce import Scale, candidates, cosine_matrix


def _decoupled(logits: torch.Tensor) -> torch.Tensor:
    """mean_i [-logits[i, i] + logsumexp_{k != i} logits[i, k]] for logits (B, C), C >= B."""
    positive = logits.diagonal()  # (B,)
    own = torch.eye(logits.shape[0], logits.shape[1], dtype=torch.bool, device=logits.device)  # (B, C)
    others = logits.masked_fill(own, float("-inf"))  # (B, C)
    return (torch.logsumexp(others, dim=1) - positive).mean()


def dcl(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: Optional[torch.Tensor] = None,
    scale: Scale = 20.0,
    symmetric: bool = False,
) -> torch.Tensor:
    """Mean decoupled contrastive loss (see module docstring)."""
    cands = candidates(anchor, positive, negative)  # (C, D)
    if anchor.shape[0] < 2 and (negative is None or symmetric):
        raise ValueError(
            "dcl needs a negative for every anchor: with a batch of 1 pass `negative` "
            "(and symmetric=False, whose backward term has only anchors as candidates)"
        )
    loss = _decoupled(scale * cosine_matrix(anchor, cands))  # from (B, C)
    if not symmetric:
        return loss
    back = _decoupled(scale * cosine_matrix(positive, anchor))  # from (B, B)
    return (loss + back) / 2
