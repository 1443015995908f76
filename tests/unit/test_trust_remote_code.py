"""Code shipped with hub weights runs only when asked: every hub load (tokenizer, policy, scorer, embedder) passes
`trust_remote_code=model.trust_remote_code`, False unless the user sets it. transformers' loaders are replaced by
stand-ins that record their arguments: nothing is downloaded."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import transformers
from conftest import compose

from contrastlab.models.embedders import load_embedder
from contrastlab.models.loading import load_model, load_tokenizer


class StandInModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(pad_token_id=None, max_position_embeddings=128)
        self.generation_config = SimpleNamespace(pad_token_id=None)


def stand_in_tokenizer():
    return SimpleNamespace(pad_token=None, eos_token="</s>", pad_token_id=None, model_max_length=128,
                           chat_template=None)


@pytest.fixture
def calls(monkeypatch):
    """(loader, path, kwargs) of every from_pretrained call of transformers' Auto classes."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # skip the hub / cache check: nothing is downloaded
    recorded = []
    for name, make in (("AutoTokenizer", stand_in_tokenizer), ("AutoModelForCausalLM", StandInModel),
                       ("AutoModelForSequenceClassification", StandInModel), ("AutoModel", StandInModel)):  # fmt: skip

        def from_pretrained(path, *args, _name=name, _make=make, **kwargs):
            recorded.append((_name, str(path), kwargs))
            return _make()

        monkeypatch.setattr(getattr(transformers, name), "from_pretrained", from_pretrained)
    return recorded


def test_trust_remote_code_is_off_by_default():
    assert compose(["model=llama"]).model.trust_remote_code is False
    assert compose(["model=bert"]).model.trust_remote_code is False


@pytest.mark.parametrize("trust", [False, True])
def test_every_hub_load_of_a_policy_passes_trust_remote_code(calls, trust):
    cfg = compose(["model=llama", *(["model.trust_remote_code=true"] if trust else [])])
    assert cfg.model.source == "hub"
    tokenizer = load_tokenizer(cfg.model)
    load_model(cfg.model, cfg.hardware, tokenizer)
    load_model(cfg.model, cfg.hardware, tokenizer, head="score")
    assert [(loader, path) for loader, path, _ in calls] == [
        ("AutoTokenizer", cfg.model.path), ("AutoModelForCausalLM", cfg.model.path),
        ("AutoModelForSequenceClassification", cfg.model.path)]  # fmt: skip
    assert [kwargs.get("trust_remote_code", "not passed") for _, _, kwargs in calls] == [trust] * 3


@pytest.mark.parametrize("trust", [False, True])
def test_every_hub_load_of_an_embedder_passes_trust_remote_code(calls, trust):
    cfg = compose(["model=bert", "objective=simcse", *(["model.trust_remote_code=true"] if trust else [])])
    load_embedder(cfg.model, cfg.hardware)
    assert [(loader, path) for loader, path, _ in calls] == [("AutoTokenizer", "bert-base-uncased"),
                                                             ("AutoModel", "bert-base-uncased")]  # fmt: skip
    assert [kwargs.get("trust_remote_code", "not passed") for _, _, kwargs in calls] == [trust] * 2


@pytest.mark.parametrize("trust", [False, True])
def test_a_reward_models_full_weights_load_with_its_runs_own_setting(calls, trust, tmp_path):
    from omegaconf import OmegaConf

    from contrastlab.models.loading import load_reward_model

    overrides = ["model=llama", "objective=reward", "model.lora.enabled=false"]
    cfg = compose([*overrides, *(["model.trust_remote_code=true"] if trust else [])])
    (tmp_path / ".hydra").mkdir()
    (tmp_path / "model").mkdir()
    OmegaConf.save(cfg, tmp_path / ".hydra" / "config.yaml")
    load_reward_model(str(tmp_path), compose(overrides).hardware)
    assert [(name, path) for name, path, _ in calls] == [("AutoTokenizer", str(tmp_path / "model")),
                                                         ("AutoModelForSequenceClassification", str(tmp_path / "model"))]
    assert [kwargs.get("trust_remote_code", "not passed") for _, _, kwargs in calls] == [trust] * 2
