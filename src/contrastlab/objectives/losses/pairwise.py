"""Pairwise preference losses of the DPO family: DPO, conservative DPO, DPO-Shift and ODPO.

Notation (shared by every function here):

    ℓ = log πθ(y|x) - log πref(y|x)         # the log-ratio of a completion, summed over its tokens
    h = ℓw - ℓl                              # chosen minus rejected
    L(z) = -log σ(z) = softplus(-z)          # computed with F.logsigmoid, stable for large |z|

    dpo_sigmoid = L(β h)
    cdpo        = (1 - ε) L(β h) + ε L(-β h)
    dpo_shift   = L(β ℓw - λ β ℓl)
    odpo        = L(β h - offset),  offset = α log(s_w - s_l)

Each reduces to DPO at one setting of its extra argument (ε = 0, λ = 1, offset = 0).

Shapes: every log-ratio, score and offset is (B,); each loss returns the PER-EXAMPLE loss (B,),
the caller takes the mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dpo_sigmoid(chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO: L(β (ℓw - ℓl)) per pair.

    Shapes: chosen_logratios, rejected_logratios (B,) -> (B,).
    Equals TRL's DPOTrainer loss_type="sigmoid" (with f_divergence_type="reverse_kl").
    Paper: Rafailov et al. 2023, "Direct Preference Optimization", arXiv:2305.18290, Eq. 7.
    """
    return -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))  # (B,)


def cdpo(
    chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, beta: float, label_smoothing: float
) -> torch.Tensor:
    """Conservative DPO: (1 - ε) L(β h) + ε L(-β h), h = ℓw - ℓl, ε = label_smoothing.

    The DPO loss against soft targets: the label is taken to be flipped with probability ε, so the
    loss no longer drives β h to +∞ (its minimum is at β h = log((1 - ε) / ε)). ε = 0 gives DPO.
    Unlike rDPO (TRL's "robust") it is not debiased by 1 / (1 - 2ε) and the flipped term is added.
    Shapes: chosen_logratios, rejected_logratios (B,) -> (B,).
    Paper: Mitchell 2023, "A note on DPO with noisy preferences & relationship to IPO",
    https://ericmitchell.ai/cdpo.pdf (no arXiv id), Eq. 3.
    """
    z = beta * (chosen_logratios - rejected_logratios)  # (B,)
    return -(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)


def dpo_shift(
    chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, beta: float, shift: float
) -> torch.Tensor:
    """DPO-Shift: L(β ℓw - λ β ℓl), λ = shift.

    λ < 1 shrinks the rejected term, which counters DPO's tendency to lower the chosen
    likelihood along with the rejected one. λ = 1 gives DPO.
    Shapes: chosen_logratios, rejected_logratios (B,) -> (B,).
    Paper: Yang et al. 2025, "DPO-Shift: Shifting the Distribution of Direct Preference
    Optimization", arXiv:2502.07599.
    """
    return -F.logsigmoid(beta * chosen_logratios - shift * beta * rejected_logratios)  # (B,)


def odpo(
    chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, offset: torch.Tensor, beta: float
) -> torch.Tensor:
    """ODPO: L(β (ℓw - ℓl) - offset), the offset (B,) usually from `odpo_offset`.

    The chosen completion must beat the rejected one by at least the offset before the loss
    flattens, so pairs with a larger score gap are pushed further apart. Zero offset gives DPO.
    Shapes: chosen_logratios, rejected_logratios, offset (B,) -> (B,).
    Paper: Amini et al. 2024, "Direct Preference Optimization with an Offset", arXiv:2402.10571;
    the form of the reference code (rycolab/odpo, trainers.py, `preference_loss`).
    """
    return -F.logsigmoid(beta * (chosen_logratios - rejected_logratios) - offset)  # (B,)


def odpo_offset(score_chosen: torch.Tensor, score_rejected: torch.Tensor, alpha: float) -> torch.Tensor:
    """ODPO's offset α log(s_w - s_l) from the scores (e.g. reward-model or human ratings) of the pair.

    Needs s_w > s_l for every pair (the log of a non-positive gap is undefined): ValueError otherwise.
    Shapes: score_chosen, score_rejected (B,) -> (B,).
    Paper: Amini et al. 2024, arXiv:2402.10571 (reference code: `margin = log(chosen_rewards -
    rejected_rewards)`, then `-logsigmoid(beta * logits - alpha * margin)`).
    """
    gap = score_chosen - score_rejected  # (B,)
    if not bool((gap > 0).all()):
        raise ValueError("odpo_offset needs score_chosen > score_rejected for every pair (it takes log of the gap)")
    return alpha * torch.log(gap)
