"""GradDiff (the NPO paper's baseline): gradient ascent on the forget set plus the retain NLL, hand-worked.

A batch of two examples, each a forget sequence then a retain sequence, three completion positions:
  forget token log-probs [[-1, -2, pad], [-3, pad, pad]] -> forget NLL (1 + 2 + 3) / 3 = 2 (a mean over tokens)
  retain token log-probs [[-0.5, pad, pad], [-1.5, -1, pad]] -> retain NLL (0.5 + 1.5 + 1) / 3 = 1
loss = -2 + w * 1: retain_weight 0 gives -2 (the negated forget NLL: plain gradient ascent), w = 0.5 gives -1.5.
"""

from __future__ import annotations

import pytest
import torch
from conftest import compose

from contrastlab.objectives import discover
from contrastlab.objectives.trainers.preference import SequenceBatch

PAD = float("-inf")


def _batch(with_retain: bool = True) -> SequenceBatch:
    forget = [[-1.0, -2.0, PAD], [-3.0, PAD, PAD]]
    retain = [[-0.5, PAD, PAD], [-1.5, -1.0, PAD]]
    token = torch.tensor([[f, r] for f, r in zip(forget, retain)], requires_grad=True)  # (B, K, T)
    mask = torch.tensor([[[1, 1, 0], [1, 0, 0]], [[1, 0, 0], [1, 1, 0]]])
    if not with_retain:
        token, mask = token[:, :1], mask[:, :1]
    logps = torch.where(mask.bool(), token, torch.zeros_like(token)).sum(-1)  # (B, K)
    return SequenceBatch(logps=logps, ref_logps=None, token_logps=token, mask=mask,
                         present=torch.ones(logps.shape, dtype=torch.bool))  # fmt: skip


def _loss(*overrides, batch):
    spec = discover()["graddiff"]
    cfg = compose(["objective=graddiff", "model=tiny", *overrides]).objective
    return spec.loss(cfg, [])(batch)


def test_no_retain_term_is_the_negated_forget_nll():
    loss, metrics = _loss("objective.retain_weight=0", batch=_batch())
    assert loss.item() == pytest.approx(-2.0, abs=1e-6)
    assert metrics["loss/forget"] == pytest.approx(-2.0, abs=1e-6) and "loss/retain_nll" not in metrics
    alone, _ = _loss(batch=_batch(with_retain=False))  # a batch without retain sequences: the same loss
    assert alone.item() == pytest.approx(-2.0, abs=1e-6)


def test_retain_term_adds_its_weighted_nll_and_descends_it():
    batch = _batch()
    loss, metrics = _loss("objective.retain_weight=0.5", batch=batch)
    assert loss.item() == pytest.approx(-2.0 + 0.5 * 1.0, abs=1e-6)
    assert metrics["loss/retain_nll"] == pytest.approx(1.0, abs=1e-6)
    loss.backward()
    grad = batch.token_logps.grad
    assert grad[0, 0, 0].item() == pytest.approx(1 / 3, abs=1e-6)  # forget tokens: d(-NLL)/dlogp = +1/3: ascent
    assert grad[0, 1, 0].item() == pytest.approx(-0.5 / 3, abs=1e-6)  # retain tokens: -w / 3: descent
    assert grad[0, 0, 2].item() == 0.0  # padding


def test_the_retain_set_is_needed_only_with_a_retain_term():
    spec = discover()["graddiff"]
    assert spec.needs(compose(["objective=graddiff", "model=tiny"]).objective).retain
    assert not spec.needs(compose(["objective=graddiff", "model=tiny", "objective.retain_weight=0"]).objective).retain
    assert not spec.needs(compose(["objective=graddiff", "model=tiny"]).objective).reference
