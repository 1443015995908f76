"""LiPO: listwise preference optimisation as learning to rank, with LambdaLoss weights.

Each prompt comes with a list of K completions, graded labels ψ (higher is better) and the
model's scores s_i = β ℓ_i, ℓ_i = log πθ(y_i|x) - log πref(y_i|x). Lists are padded to K and
`present` marks the real items. Over the ordered pairs P = {(i, j): both present, ψ_i > ψ_j}:

    lipo = (1 / |P|) Σ_{(i,j) ∈ P} w_ij · L(s_i - s_j),      L(z) = -log σ(z)

    LiPO-λ: w_ij = Δ_ij = |G_i - G_j| · |1/D(τ_i) - 1/D(τ_j)|,   G = 2^ψ - 1,  D(τ) = log2(1 + τ)

τ_i is the 1-based rank of item i among the present items of its list, by s descending (ties by
position); Δ is the change in DCG from swapping i and j, held constant (no gradient) as in LambdaLoss.
weighting="none" sets w_ij = 1 (the pair-averaged DPO loss over every pair of the list).

Dividing by |P| keeps the loss on DPO's scale whatever the list size; with w = 1 a two-item list
is exactly DPO with s = β ℓ. With lambda weights a two-item list is DPO times
|G_1 - G_2| · (1 - 1/log2 3). The paper writes a sum over pairs; the division by |P| is this module's choice.

Shapes: scores, labels (B, K) float, present (B, K) bool; lambda weights (B, K, K);
lipo returns (loss (B,), valid (B,) bool), valid False (and loss 0) for a list with no pair.
Paper: Liu et al. 2024, "LiPO: Listwise Preference Optimization through Learning-to-Rank",
arXiv:2402.01878 (LambdaLoss: Wang et al. 2018).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def lambda_weights(labels: torch.Tensor, scores: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Δ_ij = |G_i - G_j| · |1/D(τ_i) - 1/D(τ_j)| for every pair of a list; 0 where either item is absent.

    G = 2^ψ - 1, D(τ) = log2(1 + τ), τ = 1-based rank by score descending among present items,
    ties broken by position. Computed without gradient.
    Shapes: labels, scores (B, K); present (B, K) bool -> (B, K, K).
    Paper: Liu et al. 2024, arXiv:2402.01878 (LiPO-λ); DPO has no such weight (w = 1).
    """
    with torch.no_grad():
        present = present.bool()
        ranked = scores.detach().masked_fill(~present, float("-inf"))  # (B, K): absent items rank last
        order = ranked.sort(dim=-1, descending=True, stable=True).indices  # (B, K)
        positions = torch.arange(1, scores.shape[-1] + 1, device=scores.device, dtype=scores.dtype)
        rank = torch.empty_like(scores).scatter_(-1, order, positions.expand_as(scores))  # (B, K): τ
        gain = torch.exp2(labels.to(scores.dtype)) - 1  # (B, K): G
        inverse_discount = 1.0 / torch.log2(1 + rank)  # (B, K): 1 / D(τ)
        delta = (gain.unsqueeze(-1) - gain.unsqueeze(-2)).abs() * (
            inverse_discount.unsqueeze(-1) - inverse_discount.unsqueeze(-2)
        ).abs()  # (B, K, K)
        both = present.unsqueeze(-1) & present.unsqueeze(-2)  # (B, K, K)
        return torch.where(both, delta, torch.zeros_like(delta))


def lipo(
    scores: torch.Tensor,
    labels: torch.Tensor,
    present: torch.Tensor,
    weighting: Literal["lambda", "none"] = "lambda",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per list: mean over ordered pairs (ψ_i > ψ_j, both present) of w_ij · L(s_i - s_j) (see module docstring).

    Shapes: scores (B, K) = β ℓ, labels (B, K), present (B, K) bool -> (loss (B,), valid (B,) bool).
    Relation to DPO: with weighting="none" a two-item list is DPO with s = β ℓ.
    Paper: Liu et al. 2024, arXiv:2402.01878.
    """
    if weighting not in ("lambda", "none"):
        raise ValueError(f"weighting must be 'lambda' or 'none'; got {weighting!r}")
    present = present.bool()
    scores = torch.where(present, scores, torch.zeros_like(scores))  # padding may hold -inf or nan
    pairs = present.unsqueeze(-1) & present.unsqueeze(-2) & (labels.unsqueeze(-1) > labels.unsqueeze(-2))  # (B, K, K)
    pair_loss = -F.logsigmoid(scores.unsqueeze(-1) - scores.unsqueeze(-2))  # (B, K, K): L(s_i - s_j)
    if weighting == "lambda":
        pair_loss = lambda_weights(labels, scores, present) * pair_loss
    pair_loss = torch.where(pairs, pair_loss, torch.zeros_like(pair_loss))  # (B, K, K)
    count = pairs.sum(dim=(-2, -1))  # (B,)
    loss = pair_loss.sum(dim=(-2, -1)) / count.clamp(min=1).to(scores.dtype)  # (B,): 0 where count = 0
    return loss, count > 0
