"""GradCache (`objective.mini_batch_size`): the same gradients as back-propagating the whole batch at once."""

from __future__ import annotations

import functools

import pytest
import torch
import transformers
from conftest import compose

from contrastlab.models.embedders import load_embedder
from contrastlab.objectives.losses.infonce import info_nce
from contrastlab.objectives.trainers.embedding import COLUMNS, ContrastiveModel, LossHead, TextCollator
from contrastlab.objectives.trainers.grad_cache import RandomState, cached_loss_backward

TEXTS = [f"sentence number {i} about {'cats dogs birds fish'.split()[i % 4]} " + "word " * (i % 5) for i in range(24)]


def _model(dropout: float, learn_scale: bool = True) -> ContrastiveModel:
    cfg = compose(["objective=infonce", "model=tiny_encoder", f"model.tiny.dropout={dropout}"])
    transformers.set_seed(0)
    embedder = load_embedder(cfg.model, cfg.hardware)
    head = LossHead(functools.partial(info_nce, symmetric=True), temperature=0.05, learn_scale=learn_scale)
    return ContrastiveModel(embedder, head)


def _batch(model, columns=COLUMNS) -> dict:
    rows = [{name: TEXTS[(i + 8 * k) % len(TEXTS)] for k, name in enumerate(columns)} for i in range(8)]
    return TextCollator(model.embedder, max_length=16)(rows)


def _grads(model) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("chunk", [1, 3, 8])
@pytest.mark.parametrize("columns", [COLUMNS, COLUMNS[:2]])
def test_cached_gradients_equal_uncached(chunk, columns):
    model = _model(dropout=0.0)
    batch = _batch(model, columns)

    model.zero_grad()
    full = model(**batch)
    full.backward()
    expected = _grads(model)

    model.zero_grad()
    parts = [batch[name] for name in columns]
    cached = cached_loss_backward(model.embedder, model.head, parts, chunk, backward=lambda t: t.backward())
    got = _grads(model)

    assert cached.item() == pytest.approx(full.item(), abs=1e-6)
    assert set(got) == set(expected) and "head.log_scale" in got  # the learnable scale gets its gradient too
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_loss_scale_scales_the_gradients_not_the_loss():
    model = _model(dropout=0.0)
    batch = _batch(model)
    parts = [batch[name] for name in COLUMNS]
    model.zero_grad()
    one = cached_loss_backward(model.embedder, model.head, parts, 4, backward=lambda t: t.backward())
    g1 = _grads(model)
    model.zero_grad()
    half = cached_loss_backward(model.embedder, model.head, parts, 4, backward=lambda t: t.backward(), loss_scale=0.5)
    g2 = _grads(model)
    assert half.item() == pytest.approx(one.item())
    for name in g1:
        torch.testing.assert_close(g2[name], 0.5 * g1[name], atol=1e-7, rtol=1e-5)


def test_random_state_replays_dropout_masks():
    """With dropout on, the second (graph) pass must see the masks of the first (cached) pass."""
    model = _model(dropout=0.3).train()
    features = _batch(model)["anchor"]
    state = RandomState()
    first = model.embedder(**features)
    again = model.embedder(**features)  # the random stream moved on: new masks
    with state.replay():
        replayed = model.embedder(**features)
    after = model.embedder(**features)
    assert not torch.allclose(first, again)
    torch.testing.assert_close(replayed, first, atol=0, rtol=0)
    assert not torch.allclose(after, first)  # replay leaves the outer random stream where it was


def test_collator_pads_columns_jointly_only_when_cheap():
    model = _model(dropout=0.0)
    same = TextCollator(model.embedder, max_length=64)([{"anchor": t, "positive": t} for t in TEXTS[:4]])
    assert same["anchor"]["input_ids"].shape == same["positive"]["input_ids"].shape
    long = "a much longer passage " * 10
    rows = [{"anchor": "short", "positive": long}, {"anchor": "a short one", "positive": long + "end"}] * 2
    for side in ("right", "left"):
        model.embedder.tokenizer.padding_side = side
        mixed = TextCollator(model.embedder, max_length=64)(rows)
        assert mixed["anchor"]["input_ids"].shape[1] < mixed["positive"]["input_ids"].shape[1]
        for name in ("anchor", "positive"):  # each column exactly as if tokenized on its own
            alone = model.embedder.tokenize([row[name] for row in rows], max_length=64)
            for key in ("input_ids", "attention_mask"):
                assert torch.equal(mixed[name][key], alone[key]), (side, name, key)


def test_one_joint_pass_gives_the_per_column_embeddings():
    model = _model(dropout=0.0).eval()
    batch = _batch(model, COLUMNS[:2])
    joint = {name: {k: v for k, v in batch[name].items()} for name in COLUMNS[:2]}
    width = max(part["input_ids"].shape[1] for part in joint.values())
    for part in joint.values():  # pad both columns to one width: the model then embeds them in one pass
        pad = width - part["input_ids"].shape[1]
        part["input_ids"] = torch.nn.functional.pad(part["input_ids"], (0, pad), value=0)
        part["attention_mask"] = torch.nn.functional.pad(part["attention_mask"], (0, pad), value=0)
    separate = [model.embedder(**batch[name]) for name in COLUMNS[:2]]
    together = model.embed_columns(joint)
    for a, b in zip(separate, together):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
