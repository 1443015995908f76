"""Every contrastive objective trains 3 steps on the tiny encoder and moves every trainable parameter; the
saved model loads with sentence-transformers and transformers and embeds as the trained model did; the cached
(GradCache) mode trains to the same weights as the uncached one."""

from __future__ import annotations

import json
import math

import pytest
import torch
import transformers
from conftest import compose
from safetensors.torch import load_file

from contrastlab.models.embedders import load_embedder
from contrastlab.objectives import discover
from contrastlab.app.pipeline import run

EMBEDDING = sorted(name for name, spec in discover().items() if spec.family == "embedding")
TINY = ["model=tiny_encoder", "data=lee", "logger=none", "name=test", "train.max_steps=3", "train.batch_size=8",
        "train.lr=1e-3", "data.max_train=48", "train.max_length=32", "eval.max_length=64"]  # fmt: skip


def _initial(cfg) -> dict[str, torch.Tensor]:
    transformers.set_seed(cfg.train.seed)
    embedder = load_embedder(cfg.model, cfg.hardware)
    return {name: p.detach().clone() for name, p in embedder.model.named_parameters() if p.requires_grad}


@pytest.mark.slow
@pytest.mark.parametrize("objective", EMBEDDING)
def test_objective_trains_and_moves_every_parameter(objective, tmp_path):
    cfg = compose([f"objective={objective}", *TINY])
    spearman = run(cfg, run_dir=tmp_path)

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train/steps"] == 3 and math.isfinite(metrics["train/loss"])
    assert metrics["after/spearman"] == pytest.approx(spearman)
    assert metrics["data/num_benchmark"] == 1225  # the Lee document pairs
    for when in ("before", "after"):
        assert -1.0 <= metrics[f"{when}/spearman"] <= 1.0 and -1.0 <= metrics[f"{when}/pearson"] <= 1.0
        assert 0.0 <= metrics[f"{when}/alignment"] <= 4.0  # squared distance of unit vectors
        assert -4.0 <= metrics[f"{when}/uniformity"] <= 0.0  # log of a mean of exp(-2 d^2), d^2 in [0, 4]
    assert metrics["before/spearman"] != metrics["after/spearman"]
    for name in ("spearman", "pearson"):  # Fisher's z interval over the 1,225 benchmark pairs
        assert metrics[f"ci_low/after/{name}"] < metrics[f"after/{name}"] < metrics[f"ci_high/after/{name}"]
    rows = (tmp_path / "examples" / "after.jsonl").read_text().splitlines()
    assert len(rows) == 1225 and {"id", "similarity", "gold"} <= set(json.loads(rows[0]))

    initial = _initial(cfg)
    final = load_file(str(tmp_path / "model" / "model.safetensors"))
    assert set(initial) <= set(final)
    unchanged = [name for name, before in initial.items() if torch.equal(before, final[name])]
    assert not unchanged, f"{objective}: parameters that did not move: {unchanged}"


@pytest.mark.slow
def test_saved_model_loads_in_sentence_transformers_and_transformers(tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    from contrastlab.models.embedders import pool

    cfg = compose(["objective=simcse", *TINY, "train.max_steps=2"])
    run(cfg, run_dir=tmp_path)
    path = str(tmp_path / "model")
    texts = ["A fire burns near the town.", "Rain falls on the capital."]

    st = SentenceTransformer(path, device="cpu")
    st_emb = torch.as_tensor(st.encode(texts, convert_to_numpy=True))  # (2, D)

    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hf_emb = pool(model(**batch).last_hidden_state, batch["attention_mask"], "mean")

    assert st_emb.shape == (2, cfg.model.tiny.hidden_size)
    torch.testing.assert_close(st_emb, hf_emb, atol=1e-5, rtol=1e-4)
    trained = load_file(str(tmp_path / "model" / "model.safetensors"))
    state = model.state_dict()
    assert all(torch.equal(state[name], tensor) for name, tensor in trained.items())


@pytest.mark.slow
def test_cached_mode_trains_to_the_same_weights(tmp_path):
    """Without dropout, GradCache in chunks of 3 gives the gradients of the whole batch of 8: same weights."""
    base = ["objective=infonce", *TINY, "model.tiny.dropout=0.0", "objective.learn_scale=true",
            "eval.before=false", "eval.after=false"]  # fmt: skip
    run(compose(base), run_dir=tmp_path / "plain")
    run(compose([*base, "objective.mini_batch_size=3"]), run_dir=tmp_path / "cached")
    plain = load_file(str(tmp_path / "plain" / "model" / "model.safetensors"))
    cached = load_file(str(tmp_path / "cached" / "model" / "model.safetensors"))
    for name, tensor in plain.items():
        torch.testing.assert_close(cached[name], tensor, atol=1e-5, rtol=1e-4, msg=name)
    metrics = [json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("plain", "cached")]
    assert metrics[1]["train/loss"] == pytest.approx(metrics[0]["train/loss"], abs=1e-5)
    assert metrics[0]["train/scale"] != 20.0  # the learnable scale moved from 1 / 0.05
    assert metrics[1]["train/scale"] == pytest.approx(metrics[0]["train/scale"], abs=1e-4)


@pytest.mark.slow
def test_decoder_with_lora_trains_as_an_embedder_and_saves_merged(tmp_path, fixtures):
    """The tiny Llama as an embedder (last-token pooling) with a LoRA adapter, on question/answer pairs from a
    CSV mapped by data.columns; held out pairs give alignment and uniformity when there is no benchmark."""
    from sentence_transformers import SentenceTransformer

    cfg = compose(["objective=infonce", "model=tiny", "model.lora.enabled=true", "data=jsonl",
                   f"data.path={fixtures / 'data' / 'sentence_pairs.csv'}", "+data.columns.anchor=question",
                   "+data.columns.positive=answer", "data.eval_fraction=0.4", "+data.columns.group=topic",
                   "logger=none", "name=test", "train.max_steps=2", "train.batch_size=2", "train.lr=1e-2"])  # fmt: skip
    assert cfg.model.pooling == "last"
    run(cfg, run_dir=tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train/steps"] == 2 and metrics["data/num_benchmark"] == 0 and metrics["data/num_eval"] >= 1
    assert {"before/alignment", "after/alignment", "before/uniformity", "after/uniformity"} <= set(metrics)
    assert "after/spearman" not in metrics
    saved = tmp_path / "model"
    assert not (saved / "adapter_config.json").exists()  # merged: loads without PEFT
    emb = SentenceTransformer(str(saved), device="cpu").encode(["one text", "another"], convert_to_numpy=True)
    assert emb.shape == (2, cfg.model.tiny.hidden_size)
