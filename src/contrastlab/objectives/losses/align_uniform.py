"""Alignment and uniformity on the hypersphere (Wang & Isola 2020).

With x̂ = x / ||x|| (rows L2-normalised):

    alignment(x, y)  = mean_i ||x̂_i - ŷ_i||^alpha                      # positives close
    uniformity(x)    = log mean_{i<j} exp(-t ||x̂_i - x̂_j||^2)           # spread over the sphere
    align_uniform    = alignment(a, p) + lam * (uniformity(a) + uniformity(p)) / 2

exactly as the paper's reference code (`align_loss`, `uniform_loss` with torch.pdist).
Uniformity needs at least two rows: ValueError otherwise.

Shapes: x, y, anchor, positive (B, D); each function returns a 0-dim tensor.
Paper: Wang & Isola 2020, "Understanding Contrastive Representation Learning through Alignment and
Uniformity on the Hypersphere", arXiv:2005.10242.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """mean_i ||x̂_i - ŷ_i||^alpha over the B pairs."""
    if x.dim() != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both be (B, D); got {tuple(x.shape)}, {tuple(y.shape)}")
    x, y = F.normalize(x, p=2, dim=1), F.normalize(y, p=2, dim=1)  # (B, D)
    return (x - y).norm(p=2, dim=1).pow(alpha).mean()  # from (B,)


def uniformity(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """log mean_{i<j} exp(-t ||x̂_i - x̂_j||^2) over the B(B-1)/2 pairs of rows."""
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"uniformity needs (B, D) with B >= 2 rows to form pairs; got {tuple(x.shape)}")
    x = F.normalize(x, p=2, dim=1)  # (B, D)
    return torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()  # from (B(B-1)/2,)


def align_uniform(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    lam: float = 1.0,
    alpha: float = 2.0,
    t: float = 2.0,
) -> torch.Tensor:
    """alignment(anchor, positive) + lam * (uniformity(anchor) + uniformity(positive)) / 2."""
    return alignment(anchor, positive, alpha) + lam * (uniformity(anchor, t) + uniformity(positive, t)) / 2
