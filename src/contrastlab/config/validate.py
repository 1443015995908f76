"""Checks between fields, run after composition and before any data or weights load.

Each failure is a `UserError` naming the option and the fix (exit code 2). Imports no torch.
"""

from __future__ import annotations

import os

from contrastlab.errors import UserError
from contrastlab.objectives import discover
from contrastlab.objectives.base import ObjectiveSpec

ENCODER_SOURCES = ("tiny_encoder", "minilm")  # sentence encoders: no language-model head
EMBEDDING_OBJECTIVES = "simcse, infonce, dcl or align_uniform"
_DATA_HINTS = {  # record type -> where to get it, for the error when the data gives another type
    "Sentence": " (data=lee, data=wiki1m, or data=jsonl with a text column)",
    "SentencePair": " (data=lee, data=nli, or data=jsonl with text or anchor/positive columns)",
    "Forget": " (data=rt_forget, or data=jsonl with prompt, completion and split = forget|retain columns)",
    "Ranked": " (data=rt_ranked, data=ultrafeedback_ranked, or data=jsonl with prompt, completions and scores)",
    "MultiAttribute": " (data=rt_multi, data=helpsteer2, or data=jsonl with scores_chosen/scores_rejected objects)",
}

_CHOICES = {
    "model.source": ("tiny", "tiny_encoder", "smollm2", "minilm", "hub"),
    "model.pooling": ("mean", "cls", "last"),
    "model.dtype": ("auto", "float32", "bfloat16", "float16"),
    "hardware.device": ("cpu", "cuda"),
    "hardware.precision": ("fp32", "bf16", "fp16"),
    "logger.backend": ("wandb", "none"),
    "logger.mode": ("offline", "online", "disabled"),
}


def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def objective_spec(cfg) -> ObjectiveSpec:
    """The spec of `cfg.objective`, or a UserError listing the known objectives."""
    specs = discover()
    name = cfg.objective.name
    if name not in specs:
        raise UserError(f"objective.name={name} is not a known objective; choose from {', '.join(sorted(specs))}")
    return specs[name]


def validate(cfg) -> ObjectiveSpec:
    """Run every cross-field check; return the objective's spec."""
    from contrastlab.data.adapters import can_adapt
    from contrastlab.data.sources import check_source, native_record_type

    spec = objective_spec(cfg)
    for key, allowed in _CHOICES.items():
        value = _get(cfg, key)
        if value not in allowed:
            raise UserError(f"{key}={value} is not one of {', '.join(allowed)}")

    problem = spec.check(cfg.objective) if spec.check else None
    if problem:
        raise UserError(problem)

    t = cfg.train
    for key in ("batch_size", "grad_accum", "max_length", "log_every"):
        if getattr(t, key) < 1:
            raise UserError(f"train.{key}={getattr(t, key)} must be at least 1")
    if t.max_steps == 0 or t.max_steps < -1:
        raise UserError(f"train.max_steps={t.max_steps}: give a positive number of steps, or -1 to run train.epochs")
    if t.max_steps == -1 and t.epochs <= 0:
        raise UserError(f"train.epochs={t.epochs} must be positive when train.max_steps=-1")
    if not 0.0 <= t.warmup < 1.0:
        raise UserError(f"train.warmup={t.warmup} is a fraction of the steps: give a value in [0, 1)")
    if t.lr <= 0:
        raise UserError(f"train.lr={t.lr} must be positive")
    if spec.family == "embedding":
        _check_embedding(cfg)
    elif not 0.0 < cfg.data.eval_fraction < 1.0:
        raise UserError(f"data.eval_fraction={cfg.data.eval_fraction} must lie strictly between 0 and 1")

    m, hw = cfg.model, cfg.hardware
    if m.source in ENCODER_SOURCES and spec.family != "embedding":
        raise UserError(f"model={m.name} is a sentence encoder with no language-model head, so it cannot train "
                        f"objective={spec.name}; use it with objective={EMBEDDING_OBJECTIVES}, or pick a language "
                        "model (model=smollm2)")
    if m.source == "hub" and not m.path:
        raise UserError(f"model={m.name} loads from the hub but model.path is empty: give a hub id or a local folder")
    if m.lora.enabled and m.lora.r < 1:
        raise UserError(f"model.lora.r={m.lora.r} must be at least 1")
    if spec.family == "reward" and getattr(cfg.objective, "precompute_ref", False):
        raise UserError("objective=reward has no reference policy: drop objective.precompute_ref")
    if hw.device == "cpu" and hw.precision == "fp16":
        raise UserError("hardware.precision=fp16 needs a GPU: on the CPU use fp32 or bf16")
    if hw.device == "cuda" and os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        raise UserError("hardware.device=cuda but CUDA_VISIBLE_DEVICES is empty: use hardware=cpu")
    if hw.num_processes != 1:
        raise UserError(f"hardware.num_processes={hw.num_processes}: this version runs one process; set it to 1")

    check_source(cfg.data)
    native = native_record_type(cfg.data)
    if not can_adapt(native, spec.record):
        raise UserError(
            f"objective={spec.name} needs {spec.record} records but data={cfg.data.name} gives {native} records, "
            "and there is no sound conversion; choose data that gives them"
            + _DATA_HINTS.get(spec.record, "")
        )
    return spec


def _check_embedding(cfg) -> None:
    """Checks that only the contrastive (embedding) objectives need."""
    t, o = cfg.train, cfg.objective
    if t.batch_size < 2:
        raise UserError(f"train.batch_size={t.batch_size}: objective={o.name} contrasts each example with the rest "
                        "of its batch, so it needs at least 2 (in-batch negatives want 32 or more)")
    if o.mini_batch_size < 0:
        raise UserError(f"objective.mini_batch_size={o.mini_batch_size} must be 0 (off) or a chunk size")
    if not 0.0 <= cfg.data.eval_fraction < 1.0:
        raise UserError(f"data.eval_fraction={cfg.data.eval_fraction} must be at least 0 and below 1")
    if cfg.eval.max_length is not None and cfg.eval.max_length < 1:
        raise UserError(f"eval.max_length={cfg.eval.max_length} must be at least 1, or null for the model's limit")
