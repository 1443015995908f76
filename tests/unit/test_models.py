"""Model loading: a hub model offline fails at once with the fix; the tiny model is seeded."""

from __future__ import annotations

import time

import pytest
import torch
from conftest import compose

from contrastlab.errors import UserError
from contrastlab.models import loading


def test_hub_model_offline_fails_at_once_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(loading, "hub_reachable", lambda: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    cfg = compose(["model=pythia"])
    start = time.perf_counter()
    with pytest.raises(UserError, match="model.path=EleutherAI/pythia-160m .*model=smollm2"):
        loading.load_tokenizer(cfg.model)
    assert time.perf_counter() - start < 5


def test_tiny_model_is_seeded():
    import transformers

    cfg = compose(["model=tiny"])
    tokenizer = loading.load_tokenizer(cfg.model)
    weights = []
    for seed in (0, 0, 1):
        transformers.set_seed(seed)
        weights.append(loading.load_model(cfg.model, cfg.hardware, tokenizer).lm_head.weight.detach().clone())
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    assert weights[0].shape == (len(tokenizer), 64)
