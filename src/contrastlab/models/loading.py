"""Policy and reward models: built locally (tiny), converted from a packaged file (smollm2), or from the hub.

`load_tokenizer` and `load_model` are the only entry points; LoRA is added by the trainer from
`lora_config` (PEFT), so that the reference policy is the base with the adapter disabled.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from contrastlab.errors import UserError
from contrastlab.models.assets import smollm2_dir
from contrastlab.models.precision import trains_base_weights, weight_dtype
from contrastlab.network import hub_reachable


def _prefer_cache_when_offline(model_cfg) -> None:
    """Offline: use the local HF cache if it holds the model, else stop now with the fix."""
    from huggingface_hub import try_to_load_from_cache

    if Path(model_cfg.path).exists() or os.environ.get("HF_HUB_OFFLINE") == "1" or hub_reachable():
        return
    if isinstance(try_to_load_from_cache(model_cfg.path, "config.json", revision=model_cfg.revision), str):
        os.environ["HF_HUB_OFFLINE"] = "1"
        return
    raise UserError(
        f"model.path={model_cfg.path} is not a local folder, the hub is unreachable from here and the model is not "
        "in the local Hugging Face cache: use model=smollm2 offline, or model.path=/a/local/folder"
    )


def _hub(fn, model_cfg, **kwargs):
    _prefer_cache_when_offline(model_cfg)
    try:
        return fn(model_cfg.path, revision=model_cfg.revision, trust_remote_code=model_cfg.trust_remote_code, **kwargs)
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"could not load model.path={model_cfg.path} ({first}); it needs the hub (network, and a login for gated "
            "models) or a local folder: use model=smollm2 offline, or model.path=/a/local/folder"
        ) from None


def load_tokenizer(model_cfg):
    from transformers import AutoTokenizer

    if model_cfg.get("init"):  # the tokenizer the run saved beside its model
        from contrastlab.models.init import init_run

        tokenizer = AutoTokenizer.from_pretrained(init_run(model_cfg.init)[0] / "model")
    elif model_cfg.source in ("tiny", "smollm2"):
        tokenizer = AutoTokenizer.from_pretrained(smollm2_dir(weights=model_cfg.source == "smollm2"))
    else:
        tokenizer = _hub(AutoTokenizer.from_pretrained, model_cfg)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _tiny_config(model_cfg, tokenizer):
    from transformers import LlamaConfig

    arch = model_cfg.tiny
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        num_key_value_heads=arch.num_heads,
        intermediate_size=arch.intermediate_size,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
        attention_dropout=arch.dropout,
    )


def load_model(model_cfg, hardware_cfg, tokenizer, head: str = "causal_lm", trained: bool | None = None,
               dtype=None, merge: bool = True):
    """The policy (`head="causal_lm"`) or a scalar scorer (`head="score"`), in train mode, on the CPU, its weights
    in float32 when the run trains them (`trained`; default: unless a LoRA adapter is trained beside them), else
    at `model.dtype` (`models.precision`); `dtype` overrides both. With `model.init`, a finished run's model
    (`models.init`), its adapter merged unless `merge=False`.

    Call `transformers.set_seed` first: the tiny model's weights and a new score head are drawn from it.
    """
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        LlamaForCausalLM,
        LlamaForSequenceClassification,
    )

    trained = trains_base_weights(model_cfg) if trained is None else trained
    dtype = weight_dtype(model_cfg, hardware_cfg, trained) if dtype is None else dtype
    if model_cfg.get("init"):
        model = _load_init(model_cfg, hardware_cfg, tokenizer, head, dtype, merge)
    elif model_cfg.source == "tiny":
        config = _tiny_config(model_cfg, tokenizer)
        if head == "score":
            config.num_labels = 1
            model = LlamaForSequenceClassification(config)
        else:
            model = LlamaForCausalLM(config)
        model.config.name_or_path = "contrastlab/tiny"
        model = model.to(dtype)
    else:
        cls = AutoModelForSequenceClassification if head == "score" else AutoModelForCausalLM
        kwargs = {"dtype": dtype}
        if head == "score":
            kwargs["num_labels"] = 1
        if model_cfg.source == "smollm2":
            model = cls.from_pretrained(smollm2_dir(), **kwargs)
        else:
            model = _hub(cls.from_pretrained, model_cfg, **kwargs)
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _load_init(model_cfg, hardware_cfg, tokenizer, head: str, dtype, merge: bool):
    """The init run's trained model at `dtype` (`_saved_model`), on its starting model as that run loaded it."""
    from contrastlab.models.init import init_run, reference_config

    folder, _ = init_run(model_cfg.init)
    base_cfg, seed = reference_config(model_cfg)
    return _saved_model(folder, base_cfg, seed, hardware_cfg, tokenizer, head, dtype, merge,
                        bool(model_cfg.trust_remote_code))  # fmt: skip


def _saved_model(folder: Path, base_cfg, seed: int, hardware_cfg, tokenizer, head: str, dtype, merge: bool,
                 trust: bool):  # fmt: skip
    """The model a finished run saved in `folder/model` at `dtype`: its LoRA adapter on the base of `base_cfg`
    (drawn from `seed` when it is the tiny model, as in that run), merged when `merge`, or its full weights."""
    import transformers

    saved = Path(folder) / "model"
    if (saved / "adapter_config.json").is_file():
        from peft import PeftModel

        transformers.set_seed(seed)
        base = load_model(base_cfg, hardware_cfg, tokenizer, head=head, dtype=dtype)
        model = PeftModel.from_pretrained(base, saved)
        return model.merge_and_unload() if merge else model
    cls = transformers.AutoModelForSequenceClassification if head == "score" else transformers.AutoModelForCausalLM
    return cls.from_pretrained(saved, dtype=dtype, trust_remote_code=trust)


def frozen_copy(model):
    """A reference policy: a frozen deep copy (no reload by name, so in-memory models work)."""
    ref = copy.deepcopy(model).eval()
    ref.requires_grad_(False)
    return ref


def lora_config(model_cfg, task_type: str):
    """PEFT LoraConfig from `model.lora`, or None when LoRA is off."""
    lora = model_cfg.lora
    if not lora.enabled:
        return None
    from peft import LoraConfig

    targets = lora.target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets, task_type=task_type
    )


def load_reward_model(path: str, hardware_cfg):
    """(model, tokenizer, chat, system prompt) of the reward model saved by the `objective=reward` run at `path`: the
    base model of its config with the saved adapter merged in (LoRA), or the saved full weights. In eval mode, on the
    hardware's device."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer

    folder = Path(path)  # checked by config.validate.reward_run_problem
    cfg = OmegaConf.load(folder / ".hydra" / "config.yaml")
    trust = bool(cfg.model.get("trust_remote_code", False))  # the reward run's own setting: its code, your choice
    tokenizer = AutoTokenizer.from_pretrained(folder / "model", trust_remote_code=trust)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = _saved_model(folder, cfg.model, cfg.train.seed, hardware_cfg, tokenizer, "score",
                         weight_dtype(cfg.model, hardware_cfg, trained=False), True, trust)  # fmt: skip
    model.config.pad_token_id = tokenizer.pad_token_id
    model.to("cuda" if hardware_cfg.device == "cuda" else "cpu").eval()
    model.requires_grad_(False)
    chat = bool(cfg.model.chat_template and tokenizer.chat_template)
    return model, tokenizer, chat, cfg.model.get("system_prompt")
