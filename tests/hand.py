"""Helpers of the hand-worked loss tests: the formulas written with math, never with a tensor implementation."""

from __future__ import annotations

import math

import torch

log, exp = math.log, math.exp
LOG2_3 = math.log2(3)


def L(z: float) -> float:
    """-log σ(z) by hand."""
    return log(1 + exp(-z))


def sig(z: float) -> float:
    return 1 / (1 + exp(-z))


def t(*values, grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def close(got: torch.Tensor, want):
    want = torch.as_tensor(want, dtype=torch.float64)
    torch.testing.assert_close(got.detach().to(torch.float64), want.expand_as(got), atol=1e-9, rtol=0)


def randn(seed: int, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
