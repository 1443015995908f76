"""Unlearning losses on a forget set: NPO, SimNPO, and the token NLL used on the retain set.

    npo(ℓ)      = (2/β) log(1 + (πθ/πref)^β) = (2/β) softplus(β ℓ)     ℓ = log πθ(y|x) - log πref(y|x)
    simnpo(LP)  = -(2/β) log σ(-(β/|y|) LP - γ)                        LP = log πθ(y|x), no reference
    token_nll   = -Σ_t m_t log πθ(y_t|…) / Σ_t m_t                     over every masked token of the batch

NPO is DPO with only a rejected completion: drop the chosen term from L(β(ℓw - ℓl)) and
L(-β ℓl) = softplus(β ℓl) is NPO up to the factor 2/β. SimNPO replaces the reference log-ratio
by the length-normalised log-likelihood with a margin γ, as SimPO does for DPO.
The usual objective is mean(npo or simnpo over forget examples) + λ · token_nll(retain batch).

Shapes: per-example inputs (B,) return per-example losses (B,); token_nll takes (B, T) and
returns a 0-dim tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def npo(forget_logratios: torch.Tensor, beta: float) -> torch.Tensor:
    """Negative Preference Optimization: (2/β) softplus(β ℓ) per forget example.

    dL/dℓ = 2 σ(β ℓ): positive, so descent lowers the forget log-ratio, and the step shrinks as
    πθ falls below πref (the adaptive weight that keeps NPO from collapsing).
    β → 0: (2/β) softplus(β ℓ) = (2/β) log 2 + ℓ + O(β ℓ²), so NPO minus the constant (2/β) log 2
    tends to ℓ, whose gradient is that of log πθ: gradient ascent on the NLL (GA) is the β → 0 limit.
    Relation to DPO: the DPO loss L(β(ℓw - ℓl)) with the chosen term dropped, times 2/β.
    Shapes: forget_logratios (B,) -> (B,).
    Paper: Zhang et al. 2024, "Negative Preference Optimization: From Catastrophic Collapse to
    Effective Unlearning", arXiv:2404.05868.
    """
    return (2.0 / beta) * F.softplus(beta * forget_logratios)  # (B,)


def simnpo(forget_logps: torch.Tensor, lengths: torch.Tensor, beta: float, gamma: float) -> torch.Tensor:
    """SimNPO: -(2/β) log σ(-(β/|y|) LP(y) - γ) per forget example, no reference model.

    forget_logps are the policy's sequence log-probs LP(y) (summed over tokens), lengths the
    completion token counts |y| (clamped to >= 1; an empty completion has LP = 0 either way).
    Relation to DPO / NPO: NPO with ℓ replaced by the length-normalised LP / |y| and a margin γ,
    as SimPO replaces DPO's log-ratios; γ = 0 and the sum in place of the mean give a
    reference-free NPO.
    Shapes: forget_logps, lengths (B,) -> (B,).
    Paper: Fan et al. 2024, "Simplicity Prevails: Rethinking Negative Preference Optimization
    for LLM Unlearning", arXiv:2410.07163.
    """
    per_token = forget_logps / lengths.to(forget_logps.dtype).clamp(min=1)  # (B,)
    return -(2.0 / beta) * F.logsigmoid(-beta * per_token - gamma)  # (B,)


def token_nll(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood over the masked tokens of the whole batch (the retain loss).

    -(Σ token_logps · mask) / Σ mask; 0 (still connected to the graph) when the mask is empty.
    Every token weighs the same, so long completions weigh more than short ones, as in SFT.
    Relation to DPO: none directly; it is the SFT term RPO/CPO add to DPO, here on retain data.
    Shapes: token_logps (B, T) log πθ(y_t|x, y_<t), mask (B, T) bool or 0/1 -> 0-dim tensor.
    Papers: the retain term of NPO (arXiv:2404.05868) and SimNPO (arXiv:2410.07163).
    """
    mask = mask.bool()  # (B, T)
    kept = torch.where(mask, token_logps, torch.zeros_like(token_logps))  # padding may hold -inf
    return -kept.sum() / mask.sum().clamp(min=1)
