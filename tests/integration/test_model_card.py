"""model/ as others can use it: the base named by its real id, and a model card written from the run."""

from __future__ import annotations

import json

from conftest import compose

from contrastlab.tracking.model_card import base_model_id


def test_the_base_is_named_by_the_id_a_user_can_load():
    assert base_model_id(compose(["model=smollm2"]).model) == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert base_model_id(compose(["model=minilm"]).model) == "sentence-transformers/all-MiniLM-L6-v2"
    assert base_model_id(compose(["model=llama"]).model) == compose(["model=llama"]).model.path


def test_a_lora_run_leaves_an_adapter_on_the_real_base_with_a_card(tmp_path):
    import transformers
    from peft import PeftModel

    from contrastlab.app.pipeline import run
    from contrastlab.app.plan import resolve_hardware
    from contrastlab.models.loading import load_model, load_tokenizer

    overrides = ["experiment=quick", "name=test", "objective=dpo", "model.lora.enabled=true", "train.max_steps=2",
                 "data.max_train=16", "data.max_eval=16", "save_model=true"]  # fmt: skip
    cfg = compose(overrides)
    run(cfg, tmp_path)
    adapter = json.loads((tmp_path / "model" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == base_model_id(cfg.model) == "contrastlab/tiny"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    card = (tmp_path / "model" / "README.md").read_text()
    assert "objective=dpo" in card and "data=rt_sentiment" in card and "More Information Needed" not in card
    low, high = metrics["ci_low/after/pref_accuracy"], metrics["ci_high/after/pref_accuracy"]
    assert f"| pref_accuracy | 0.5000 | {metrics['after/pref_accuracy']:.4f} | [{low:.4f}, {high:.4f}] |" in card
    transformers.set_seed(cfg.train.seed)  # the tiny base is drawn from the seed; the folder loads onto it offline
    base = load_model(cfg.model, resolve_hardware(cfg.hardware), load_tokenizer(cfg.model), trained=False)
    assert isinstance(PeftModel.from_pretrained(base, tmp_path / "model"), PeftModel)
