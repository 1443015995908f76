"""MODPO: multi-objective DPO, one preference dataset plus the reward margins of the other objectives.

For M objectives with weights w (w_k > 0 for the target k, whose preference labels train the
DPO term) and margins r_m(yw) - r_m(yl) from the other objectives' reward models:

    z = (β / w_k) (ℓw - ℓl) - (1 / w_k) Σ_{m ≠ k} w_m (r_m(yw) - r_m(yl)),    ℓ = log πθ - log πref
    loss = L(σ_k · z),   L(x) = -log σ(x),   σ_k = sign(r_k(yw) - r_k(yl))

The margins of the other objectives act as a per-pair offset, so the policy's implicit reward
β ℓ / w_k fits the target's preferences after crediting what the other rewards already explain;
the optimum is the policy of the w-weighted reward sum. With all weight on the target
(w_m = 0 for m ≠ k, w_k = 1) z = β (ℓw - ℓl) and the loss is DPO.

Orientation: swapping chosen and rejected negates every difference, hence z. A pair the target
objective prefers the other way (σ_k = -1) is used swapped; a tie on the target (σ_k = 0) carries
no preference: loss 0 and valid False.

Shapes: chosen_logratios, rejected_logratios (B,); score_margins (B, M); weights (M,)
-> (loss (B,), valid (B,) bool).
Paper: Zhou et al. 2024, "Beyond One-Preference-Fits-All Alignment: Multi-Objective Direct
Preference Optimization", arXiv:2310.03708.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
import torch.nn.functional as F


def modpo(
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    score_margins: torch.Tensor,
    weights: Union[torch.Tensor, Sequence[float]],
    target: int,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """L(σ_k · z) per pair with z the MODPO logit, oriented by the target objective (see module docstring).

    Shapes: chosen_logratios, rejected_logratios (B,); score_margins (B, M); weights (M,)
    -> (loss (B,), valid (B,) bool). Weights [1, 0, ...] with target 0 give DPO.
    Paper: Zhou et al. 2024, arXiv:2310.03708.
    """
    weights = torch.as_tensor(weights, dtype=score_margins.dtype, device=score_margins.device)  # (M,)
    if score_margins.dim() != 2 or weights.shape != score_margins.shape[-1:]:
        raise ValueError(
            f"score_margins must be (B, M) and weights (M,); got {tuple(score_margins.shape)}, {tuple(weights.shape)}"
        )
    if not 0 <= target < weights.shape[0]:
        raise ValueError(f"target must index one of the {weights.shape[0]} objectives; got {target}")
    w_target = weights[target]
    if not bool(w_target > 0):
        raise ValueError(f"the target objective's weight must be > 0; got {w_target.item()}")
    others = weights.clone()
    others[target] = 0  # (M,): w_m for m != k
    offset = (score_margins * others).sum(dim=-1) / w_target  # (B,)
    z = (beta / w_target) * (chosen_logratios - rejected_logratios) - offset  # (B,)
    orientation = torch.sign(score_margins[:, target])  # (B,): +1, -1, or 0 on a tie
    valid = orientation != 0
    loss = -F.logsigmoid(orientation * z)  # (B,)
    return torch.where(valid, loss, torch.zeros_like(loss)), valid
