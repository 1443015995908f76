"""Contrastive losses over embeddings: hand-worked values and equality with sentence-transformers.

Tiny cases use 2-D unit vectors e1 = (1, 0), e2 = (0, 1), u60 = (1/2, √3/2) (60° from e1) and
v120 = (-1/2, √3/2) (120° from e1), so every cosine is 0, ±1/2 or ±1. Some inputs are scaled by a
positive factor to check that the losses normalise. Expected values come from the hand formula
with math.log/math.exp, never from a tensor implementation.
"""

from __future__ import annotations

import math

import pytest
import torch
from sentence_transformers.sentence_transformer.losses import (
    MultipleNegativesRankingLoss,
    MultipleNegativesSymmetricRankingLoss,
)

from contrastlab.objectives.losses.align_uniform import align_uniform, alignment, uniformity
from contrastlab.objectives.losses.dcl import dcl
from contrastlab.objectives.losses.infonce import info_nce

R3 = math.sqrt(3)
E1, E2, U60, V120 = [1.0, 0.0], [0.0, 1.0], [0.5, R3 / 2], [-0.5, R3 / 2]
NEG_E1, NEG_E2 = [-1.0, 0.0], [0.0, -1.0]
log, exp = math.log, math.exp


def t(*rows, times=1.0):
    return torch.tensor(rows, dtype=torch.float64) * times  # (B, 2)


def close(got: torch.Tensor, want: float):
    assert got.dim() == 0
    assert got.item() == pytest.approx(want, abs=1e-9), (got.item(), want)


# Orthogonal case: a = p = [e1, e2]: cos(a_i, p_k) = 1 if i == k else 0.
# With negatives n = [-e1, -e2]: cos(a_i, n_i) = -1, cos(a_i, n_k) = 0 for k != i.
# Tilted case: a = [e1, v120], p = [e1, u60]: cos(a, p) = [[1, 1/2], [-1/2, 1/2]].


def test_info_nce_without_negatives():
    # row i at scale 2: logits [2, 0] -> -2 + log(e^2 + 1) = log(1 + e^-2)
    close(info_nce(t(E1, E2, times=3.0), t(E1, E2), scale=2.0), log(1 + exp(-2)))


def test_info_nce_with_hard_negative():
    # row i at scale 1: logits [1, 0, -1, 0] -> -1 + log(e + 1 + e^-1 + 1) = 2 log(1 + e^-1)
    close(info_nce(t(E1, E2), t(E1, E2), t(NEG_E1, NEG_E2), scale=1.0), 2 * log(1 + exp(-1)))


def test_info_nce_hard_negative_weight_goes_to_the_own_negative():
    # w = 1 lifts only the own negative's logit: [1, 0, -1 + 1, 0] -> -1 + log(e + 3) = log(1 + 3/e).
    # (Adding it to the other anchor's negative would give [1, 0, -1, 1] -> log(1 + 1/e + e^-2 + 1).)
    got = info_nce(t(E1, E2), t(E1, E2), t(NEG_E1, NEG_E2), scale=1.0, hard_negative_weight=1.0)
    close(got, log(1 + 3 / exp(1)))


def test_info_nce_symmetric():
    # tilted case, scale 1. Forward rows (a_i vs p): [1, 1/2] target 0, [-1/2, 1/2] target 1.
    fwd = ((-1 + log(exp(1) + exp(0.5))) + (-0.5 + log(exp(-0.5) + exp(0.5)))) / 2
    # backward rows (p_j vs a): [1, -1/2] target 0, [1/2, 1/2] target 1.
    bwd = ((-1 + log(exp(1) + exp(-0.5))) + log(2)) / 2
    a, p = t(E1, V120), t(E1, U60, times=2.0)
    close(info_nce(a, p, scale=1.0), fwd)
    close(info_nce(a, p, scale=1.0, symmetric=True), (fwd + bwd) / 2)
    assert fwd != pytest.approx(bwd)


def test_info_nce_symmetric_backward_ignores_hard_negatives():
    # orthogonal case with negatives: fwd = 2 log(1 + e^-1); bwd rows [1, 0] -> log(1 + e^-1)
    got = info_nce(t(E1, E2), t(E1, E2), t(NEG_E1, NEG_E2), scale=1.0, symmetric=True)
    close(got, (2 * log(1 + exp(-1)) + log(1 + exp(-1))) / 2)


def test_dcl_without_negatives():
    # orthogonal case at scale 2: -2 + log(e^0) = -2 (only the other positive is left)
    close(dcl(t(E1, E2), t(E1, E2, times=0.5), scale=2.0), -2.0)


def test_dcl_with_hard_negative():
    # row i at scale 1, positive removed: [0, -1, 0] -> -1 + log(2 + e^-1)
    close(dcl(t(E1, E2), t(E1, E2), t(NEG_E1, NEG_E2), scale=1.0), -1 + log(2 + exp(-1)))


def test_dcl_symmetric():
    # fwd as above; backward p_j vs a_k, k != j: cos 0 -> -1 + log(1) = -1
    got = dcl(t(E1, E2), t(E1, E2), t(NEG_E1, NEG_E2), scale=1.0, symmetric=True)
    close(got, ((-1 + log(2 + exp(-1))) + (-1.0)) / 2)


def test_dcl_differs_from_info_nce_by_the_removed_positive():
    # tilted case, scale 1: per row, info_nce - dcl = log Z_i - log(Z_i - e^{s_ii}).
    # row 1: Z = e + e^.5, s_11 = 1; row 2: Z = e^-.5 + e^.5, s_22 = 1/2.
    a, p = t(E1, V120), t(E1, U60)
    z1, z2 = exp(1) + exp(0.5), exp(-0.5) + exp(0.5)
    gap = ((log(z1) - log(z1 - exp(1))) + (log(z2) - log(z2 - exp(0.5)))) / 2
    close(info_nce(a, p, scale=1.0) - dcl(a, p, scale=1.0), gap)
    # dcl rows: -1 + log(e^.5) = -1/2 and -1/2 + log(e^-.5) = -1
    close(dcl(a, p, scale=1.0), (-0.5 - 1.0) / 2)


def test_alignment():
    # pairs (e1, u60): ||.||^2 = 2 - 2 cos 60° = 1; (e2, -e2): ||.||^2 = 4. Distances 1 and 2.
    x, y = t(E1, E2), t(U60, NEG_E2, times=5.0)
    close(alignment(x, y), (1 + 4) / 2)
    close(alignment(x, y, alpha=1.0), (1 + 2) / 2)


def test_uniformity():
    # rows e1, e2, -e1: squared distances 2 (e1,e2), 4 (e1,-e1), 2 (e2,-e1)
    x = t(E1, E2, NEG_E1, times=3.0)
    close(uniformity(x), log((2 * exp(-2 * 2) + exp(-2 * 4)) / 3))
    close(uniformity(x, t=1.0), log((2 * exp(-2) + exp(-4)) / 3))
    close(uniformity(t(E1, U60)), -2.0)  # one pair at distance^2 1: log e^{-2}


def test_align_uniform():
    # a = [e1, e2], p = [u60, -e1]: alignment (1 + 2) / 2 = 1.5 (squared distances 1 and 2);
    # uniformity(a) = -t * 2, uniformity(p) = -t * 3 (cos(u60, -e1) = -1/2, distance^2 = 3)
    a, p = t(E1, E2), t(U60, NEG_E1)
    close(align_uniform(a, p, lam=0.5), 1.5 + 0.5 * (-2 * 2 + -2 * 3) / 2)
    close(align_uniform(a, p, lam=1.0, alpha=1.0, t=1.0), (1 + math.sqrt(2)) / 2 + (-2 + -3) / 2)


def _random(seed: int, with_negative: bool):
    g = torch.Generator().manual_seed(seed)
    rows = [torch.randn(8, 16, generator=g, requires_grad=True) for _ in range(3 if with_negative else 2)]
    return rows  # [a, p(, n)], each (8, 16)


def _loss_and_grads(loss_fn, embeddings):
    embeddings = [e.detach().clone().requires_grad_(True) for e in embeddings]
    loss = loss_fn(embeddings)
    loss.backward()
    return loss.detach(), [e.grad for e in embeddings]


ST_CASES = {
    "mnrl": (lambda s: MultipleNegativesRankingLoss(None, scale=s), False),
    "symmetric": (lambda s: MultipleNegativesSymmetricRankingLoss(None, scale=s), True),
    "mnrl_per_direction": (
        lambda s: MultipleNegativesRankingLoss(
            None, scale=s, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
        ),
        True,
    ),
}


@pytest.mark.parametrize("with_negative", [False, True])
@pytest.mark.parametrize("case", sorted(ST_CASES))
def test_info_nce_equals_sentence_transformers(case, with_negative):
    make, symmetric = ST_CASES[case]
    scale = 7.5
    st_loss = make(scale)  # model=None: only the embeddings path is used, no weights load
    embeddings = _random(3, with_negative)
    want, want_grads = _loss_and_grads(lambda e: st_loss.compute_loss_from_embeddings(e, labels=None), embeddings)
    got, got_grads = _loss_and_grads(lambda e: info_nce(*e, scale=scale, symmetric=symmetric), embeddings)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    assert len(got_grads) == len(want_grads)
    for g, w in zip(got_grads, want_grads):
        assert w.abs().sum() > 0
        torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(
    "loss_fn, d_loss_d_scale",
    [
        # orthogonal case, no negatives: info_nce = log(1 + e^-s), d/ds = -1 / (1 + e^s)
        (info_nce, -1 / (1 + exp(3.0))),
        # dcl = -s, d/ds = -1
        (dcl, -1.0),
    ],
)
def test_gradient_flows_to_a_learnable_scale(loss_fn, d_loss_d_scale):
    scale = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    loss_fn(t(E1, E2), t(E1, E2), scale=scale).backward()
    assert scale.grad is not None
    assert scale.grad.item() == pytest.approx(d_loss_d_scale, abs=1e-9)


def test_errors():
    with pytest.raises(ValueError, match="batch of 1"):
        dcl(t(E1), t(E1))
    with pytest.raises(ValueError, match="batch of 1"):
        dcl(t(E1), t(E1), t(NEG_E1), symmetric=True)
    close(dcl(t(E1), t(E1), t(NEG_E1), scale=1.0), -1 + -1)  # -1 + log(e^-1): the one negative suffices
    with pytest.raises(ValueError, match="B >= 2"):
        uniformity(t(E1))
    with pytest.raises(ValueError, match="hard_negative_weight"):
        info_nce(t(E1, E2), t(E1, E2), hard_negative_weight=1.0)
    with pytest.raises(ValueError, match="negative must be"):
        info_nce(t(E1, E2), t(E1, E2), t(NEG_E1))
