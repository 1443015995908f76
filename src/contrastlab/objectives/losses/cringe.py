"""Cringe and Pairwise Cringe losses: push down the tokens of a rejected completion against sampled positives.

Cringe (Adolphs et al. 2022). At each position t of a negative (rejected) sequence with token y_t,
draw a positive token y⁺_t from the model's own top-k predictions with y_t removed, then contrast:

    cringe_t = -log( e^{s⁺} / (e^{s⁺} + e^{s⁻}) ) = softplus(s⁻ - s⁺)
    cringe   = mean over the completion's tokens of cringe_t

The paper writes s for logits; with log-probs the log-normaliser cancels in s⁻ - s⁺, so the
value is the same. The positive is a sample (no gradient through the choice), but gradient
flows through both log-probs: the negative is pushed down and the positive up.

Pairwise Cringe (Xu et al. 2023) trains on preference pairs (yw, yl) with

    loss = NLL(yw) + α · g · cringe(yl),    g = σ((b - [LP(yw) - LP(yl)]) / τ)

where LP is the policy's sequence log-prob (no reference model), b the margin, τ the temperature.
The gate g is near 1 while the model does not yet prefer yw to yl by b, and near 0 once it does.
Here g is computed under torch.no_grad: a per-pair weight that decides how much of the Cringe
term applies, not a quantity to optimise (so no gradient tries to move LP(yw) - LP(yl) through it).

Relation to DPO: both contrast a chosen and a rejected completion, but Pairwise Cringe uses no
reference model, acts on rejected tokens one at a time, keeps an SFT term on yw, and its
sequence-level margin only gates the token loss instead of being the loss.

Papers: Adolphs et al. 2022, "The CRINGE Loss: Learning what language not to model",
arXiv:2211.05826; Xu et al. 2023, "Some things are more CRINGE than others: Iterative Preference
Optimization with the Pairwise Cringe Loss", arXiv:2312.16682.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_positive(
    topk_logps: torch.Tensor, topk_ids: torch.Tensor, negative_ids: torch.Tensor, uniform: torch.Tensor
) -> torch.Tensor:
    """Log-prob of a positive token drawn from the top-k candidates with the negative token excluded.

    The draw follows softmax(topk_logps) renormalised over the allowed candidates (those whose id
    differs from the negative), by inverse CDF in the candidates' given order: the first j with
    cdf_j > u. Deterministic given `uniform`. When no candidate is allowed (all k ids equal the
    negative: impossible for k >= 2 with distinct ids, guarded anyway) the top-1 is returned.
    Gradient flows to the chosen entry of topk_logps, not through the choice.
    Shapes: topk_logps, topk_ids (B, T, k); negative_ids (B, T); uniform (B, T) in [0, 1) -> (B, T).
    Paper: Adolphs et al. 2022, arXiv:2211.05826 (the positive is sampled from the top-k).
    """
    k = topk_logps.shape[-1]
    position = torch.arange(k, device=topk_logps.device)  # (k,)
    allowed = topk_ids != negative_ids.unsqueeze(-1)  # (B, T, k)
    top1 = position == topk_logps.argmax(dim=-1, keepdim=True)  # (B, T, k)
    allowed = torch.where(allowed.any(dim=-1, keepdim=True), allowed, top1)  # (B, T, k)
    with torch.no_grad():
        probs = topk_logps.masked_fill(~allowed, float("-inf")).softmax(dim=-1)  # (B, T, k)
        cdf = probs.cumsum(dim=-1)  # (B, T, k)
        index = (cdf <= uniform.unsqueeze(-1)).sum(dim=-1, keepdim=True)  # (B, T, 1): first cdf_j > u
        last_allowed = torch.where(allowed, position, -1).amax(dim=-1, keepdim=True)  # (B, T, 1)
        index = torch.minimum(index, last_allowed)  # u beyond a rounded-down cdf_{k-1}
    return topk_logps.gather(-1, index).squeeze(-1)  # (B, T)


def cringe_token_loss(negative_logps: torch.Tensor, positive_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sequence Cringe loss: mean over masked tokens of softplus(neg - pos) = -log(e^pos / (e^pos + e^neg)).

    0 for a row whose mask is empty.
    Shapes: negative_logps, positive_logps (B, T) log-probs of the rejected token and of the sampled
    positive (`sample_positive`), mask (B, T) bool or 0/1 -> (B,).
    Paper: Adolphs et al. 2022, arXiv:2211.05826.
    """
    mask = mask.bool()  # (B, T)
    per_token = F.softplus(negative_logps - positive_logps)  # (B, T)
    per_token = torch.where(mask, per_token, torch.zeros_like(per_token))  # padding may hold -inf
    return per_token.sum(dim=-1) / mask.sum(dim=-1).clamp(min=1)  # (B,)


def pairwise_cringe(
    chosen_logps: torch.Tensor,
    rejected_logps: torch.Tensor,
    chosen_nll: torch.Tensor,
    cringe: torch.Tensor,
    margin: float,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """Pairwise Cringe: chosen_nll + α · g · cringe, g = σ((margin - (LP(yw) - LP(yl))) / temperature).

    The gate g is computed without gradient (a weight; see the module docstring).
    Shapes: chosen_logps, rejected_logps (B,) policy sequence log-probs; chosen_nll (B,) the
    per-example mean token NLL of yw; cringe (B,) from `cringe_token_loss` on yl -> (B,).
    Paper: Xu et al. 2023, arXiv:2312.16682.
    """
    with torch.no_grad():
        gate = torch.sigmoid((margin - (chosen_logps - rejected_logps)) / temperature)  # (B,)
    return chosen_nll + alpha * gate * cringe  # (B,)
