"""Unlearning losses: hand-worked values and gradients (NPO, SimNPO, the retain NLL).

Expected values come from math.log / math.exp on small numbers, never from a tensor implementation.
"""

from __future__ import annotations

import math

import pytest
import torch
from hand import L, close, log, sig, t

from contrastlab.objectives.losses.unlearning import npo, simnpo, token_nll

exp = math.exp


def test_npo_value_gradient_and_small_beta_limit():
    """β = 0.5, ℓ = 2: (2/β) softplus(1) = 4 log(1 + e) = 5.25305; dL/dℓ = 2 σ(β ℓ) = 2 σ(1) = 1.46212
    (positive: descent lowers the forget log-ratio). At ℓ = 0 the gradient is 2 σ(0) = 1.
    β -> 0: npo - (2/β) log 2 -> ℓ (gradient ascent on the NLL); at β = 1e-4, ℓ = 2 the gap is β ℓ²/4 = 1e-4.
    """
    ell = t(2.0, 0.0, grad=True)
    loss = npo(ell, beta=0.5)
    close(loss, [4 * log(1 + math.e), 4 * log(2)])
    loss.sum().backward()
    close(ell.grad, [2 * sig(1), 1.0])
    beta = 1e-4
    limit = npo(t(2.0, -3.0), beta) - 2 / beta * log(2)
    torch.testing.assert_close(limit, t(2.0, -3.0), atol=1e-3, rtol=0)


def test_simnpo_value_and_gradient():
    """LP = -6, |y| = 3, β = 1, γ = 0.5: -(β/|y|) LP - γ = 2 - 0.5 = 1.5
        -> -2 log σ(1.5) = 2 log(1 + e^-1.5) = 0.40282.
    LP = -2, |y| = 4, β = 2, γ = 0: -(2/4)(-2) = 1 -> -(2/2) log σ(1) = L(1).
    LP = 0, |y| = 0 (clamped to 1), β = 1, γ = 0.5: -2 log σ(-0.5) = 2 log(1 + e^0.5) = 1.94815.
    dL/dLP = (2/|y|) σ((β/|y|) LP + γ) = (2/3) σ(-1.5) = 0.12162 for the first (positive: LP goes down).
    """
    lp = t(-6.0, grad=True)
    loss = simnpo(lp, torch.tensor([3]), beta=1.0, gamma=0.5)
    close(loss, 2 * log(1 + exp(-1.5)))
    loss.sum().backward()
    assert lp.grad.item() == pytest.approx(2 / 3 * sig(-1.5), abs=1e-12)
    close(simnpo(t(-2.0), t(4.0), beta=2.0, gamma=0.0), L(1))
    close(simnpo(t(0.0), torch.tensor([0]), beta=1.0, gamma=0.5), 2 * log(1 + exp(0.5)))


def test_token_nll():
    """Tokens [[-1, -2, pad], [-3, pad, pad]]: -(-1 - 2 - 3) / 3 = 2 (padding holds -inf: ignored).
    Gradient 1/3 on each kept token, 0 on padding. An empty mask gives 0.
    """
    logps = torch.tensor([[-1.0, -2.0, float("-inf")], [-3.0, float("-inf"), float("-inf")]], dtype=torch.float64)
    logps.requires_grad_(True)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    loss = token_nll(logps, mask)
    close(loss, 2.0)
    loss.backward()
    close(logps.grad, torch.tensor([[-1 / 3, -1 / 3, 0.0], [-1 / 3, 0.0, 0.0]], dtype=torch.float64))
    close(token_nll(logps.detach(), torch.zeros(2, 3, dtype=torch.bool)), 0.0)
