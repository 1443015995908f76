"""Checks between fields, run after composition and before any data or weights load.

Each failure is a `UserError` naming the option and the fix (exit code 2). Imports no torch.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from contrastlab.errors import UserError
from contrastlab.objectives import discover
from contrastlab.objectives.base import ObjectiveSpec

ENCODER_SOURCES = ("tiny_encoder", "minilm")  # sentence encoders: no language-model head
EMBEDDING_OBJECTIVES = "simcse, infonce, dcl or align_uniform"

MIN_LENGTH = 8  # train.max_length below this holds no prompt and completion of any model's template


def objective_spec(cfg) -> ObjectiveSpec:
    """The spec of `cfg.objective`, or a UserError listing the known objectives."""
    specs = discover()
    name = cfg.objective.name
    if name not in specs:
        raise UserError(f"objective.name={name} is not a known objective; choose from {', '.join(sorted(specs))}")
    return specs[name]


def validate(cfg) -> ObjectiveSpec:
    """Run every cross-field check; return the objective's spec."""
    from contrastlab.data.records import can_adapt
    from contrastlab.data.sources import check_source, native_record_type

    spec = objective_spec(cfg)
    problem = spec.check(cfg.objective) if spec.check else None
    if problem:
        raise UserError(problem)
    beta = getattr(cfg.objective, "beta", None)
    if beta is not None and spec.family != "reward" and beta <= 0:  # the reward model keeps beta unused
        default = next((f.default for f in dataclasses.fields(spec.schema) if f.name == "beta"), 0.1)
        raise UserError(f"objective.beta={beta} must be positive: it sets the strength of objective={spec.name}'s "
                        f"preference term; give e.g. its default, objective.beta={default}")

    t = cfg.train
    for key in ("batch_size", "grad_accum", "max_length", "log_every"):
        if getattr(t, key) < 1:
            raise UserError(f"train.{key}={getattr(t, key)} must be at least 1")
    if t.max_length < MIN_LENGTH:
        raise UserError(f"train.max_length={t.max_length} tokens cannot hold a prompt and a completion (a chat "
                        f"template alone takes several): give at least {MIN_LENGTH}; 256 or more is usual")
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
    _check_hardware(cfg, spec)
    _check_generation(cfg, spec)
    check_source(cfg.data)
    native = native_record_type(cfg.data)
    if not can_adapt(native, spec.record):
        raise UserError(
            f"objective={spec.name} needs {spec.record.__name__} records but data={cfg.data.name} gives "
            f"{native.__name__} records, and there is no sound conversion; choose data that gives them"
            + _data_hint(spec.record)
        )
    return spec


def _data_hint(record: type) -> str:
    """ " (data=a, data=b, or data=jsonl with ...)": the sources whose records feed `record`, and the file form."""
    from contrastlab.data.records import can_adapt
    from contrastlab.data.sources import discover

    names = [f"data={s.name}" for s in discover().values() if s.record is not None and can_adapt(s.record, record)]
    if record.file_hint:
        names.append(record.file_hint)
    if not names:
        return ""
    return f" ({', '.join(names[:-1])}, or {names[-1]})" if len(names) > 1 else f" ({names[0]})"


def _check_hardware(cfg, spec: ObjectiveSpec) -> None:
    """Processes and the engine's options (DDP, FSDP, DeepSpeed), before anything launches."""
    hw, t = cfg.hardware, cfg.train
    n, strategy = hw.num_processes, hw.strategy
    if n is not None and n < 1:
        raise UserError(f"hardware.num_processes={n} must be at least 1 (or null: one process per visible GPU)")
    if strategy == "single" and n != 1:
        raise UserError(f"hardware={hw.name} runs one process but hardware.num_processes={n}: for several processes "
                        f"use hardware=ddp (or fsdp, deepspeed) hardware.num_processes={n or 'N'}")
    if hw.backend == "nccl" and hw.device == "cpu":
        raise UserError("hardware.backend=nccl needs GPUs but hardware.device=cpu: use hardware.backend=gloo (or null)")
    if strategy != "single" and spec.family == "embedding" and cfg.objective.mini_batch_size > 0:
        raise UserError(f"objective.mini_batch_size={cfg.objective.mini_batch_size} (GradCache) runs in one process; "
                        f"with hardware={hw.name} set it to 0: the processes' in-batch negatives are gathered, so "
                        "num_processes x train.batch_size texts already contrast")
    if strategy in ("fsdp", "deepspeed") and spec.family == "embedding":
        raise UserError(f"objective={spec.name} trains a sentence encoder, which fits on one device: use hardware=ddp "
                        f"(in-batch negatives are gathered over the processes) instead of hardware={hw.name}")
    if strategy == "fsdp":
        _check_fsdp(cfg)
    if strategy == "deepspeed":
        _check_deepspeed(cfg)
    if strategy == "deepspeed" and hw.device == "cpu":
        raise UserError("hardware.strategy=deepspeed runs on CUDA GPUs and hardware.device=cpu: on the CPU use "
                        "hardware=ddp or hardware=fsdp (gloo)")
    if strategy == "fsdp" and hw.fsdp.cpu_offload and hw.device == "cpu":
        raise UserError("hardware.fsdp.cpu_offload=true moves GPU memory to the CPU, and hardware.device=cpu: drop it")
    if t.gradient_checkpointing is not None and t.gradient_checkpointing and strategy == "fsdp" \
            and hw.fsdp.activation_checkpointing:
        raise UserError("train.gradient_checkpointing=true and hardware.fsdp.activation_checkpointing=true both "
                        "recompute activations: keep one (FSDP's avoids an extra all-gather), e.g. "
                        "train.gradient_checkpointing=false")


def _check_fsdp(cfg) -> None:
    f, lora = cfg.hardware.fsdp, cfg.model.lora.enabled
    if f.auto_wrap_policy == "SIZE_BASED_WRAP" and f.min_num_params < 1:
        raise UserError("hardware.fsdp.auto_wrap_policy=SIZE_BASED_WRAP wraps modules by size but "
                        "hardware.fsdp.min_num_params=0: give a size (e.g. 100000000), or use TRANSFORMER_BASED_WRAP")
    if f.auto_wrap_policy != "TRANSFORMER_BASED_WRAP" and f.transformer_layer_cls_to_wrap:
        raise UserError(f"hardware.fsdp.transformer_layer_cls_to_wrap is set but auto_wrap_policy="
                        f"{f.auto_wrap_policy} ignores it: use TRANSFORMER_BASED_WRAP, or drop the layer classes")
    if f.state_dict_type == "SHARDED_STATE_DICT" and cfg.save_model and not lora:
        raise UserError("hardware.fsdp.state_dict_type=SHARDED_STATE_DICT saves one shard per process, but model/ "
                        "holds loadable weights: use FULL_STATE_DICT, or save_model=false")
    if f.cpu_ram_efficient_loading and cfg.model.source == "tiny":
        raise UserError("hardware.fsdp.cpu_ram_efficient_loading loads pretrained weights on rank 0 only; model=tiny "
                        "is built, not loaded: set it to false")


def _check_deepspeed(cfg) -> None:
    d = cfg.hardware.deepspeed
    if d.config is not None:
        if not os.path.isfile(d.config):
            raise UserError(f"hardware.deepspeed.config={d.config} is not a file: give the path of a DeepSpeed JSON "
                            "config, or null to build one from hardware.deepspeed.*")
        return
    if d.zero_stage not in (1, 2, 3):
        raise UserError(f"hardware.deepspeed.zero_stage={d.zero_stage} must be 1, 2 or 3")
    if d.offload_param != "none" and d.zero_stage != 3:
        raise UserError(f"hardware.deepspeed.offload_param={d.offload_param} needs ZeRO stage 3 (only stage 3 "
                        f"partitions parameters) but zero_stage={d.zero_stage}: use hardware=deepspeed_zero3, or "
                        "offload_param=none")
    if cfg.hardware.precision == "fp16" and cfg.model.dtype == "bfloat16":
        raise UserError("hardware.precision=fp16 with model.dtype=bfloat16: DeepSpeed trains in one half precision; "
                        "use hardware.precision=bf16")


def _check_generation(cfg, spec: ObjectiveSpec) -> None:
    """`eval.generate` and its options (the reward model's folder is read, no weights)."""
    e = cfg.eval
    if not e.generate:
        if e.reward_model:
            raise UserError("eval.reward_model is set but eval.generate=false: add eval.generate=true to score "
                            "generated completions with it")
        return
    if spec.family != "policy":
        raise UserError(f"eval.generate=true evaluates what a policy writes; objective={spec.name} trains a "
                        f"{'reward model' if spec.family == 'reward' else spec.family + ' model'}: drop eval.generate")
    if e.num_prompts < 1 or e.max_new_tokens < 1 or e.num_samples < 0:
        raise UserError(f"eval.num_prompts={e.num_prompts} and eval.max_new_tokens={e.max_new_tokens} must be at "
                        f"least 1, eval.num_samples={e.num_samples} at least 0")
    if e.temperature <= 0:
        raise UserError(f"eval.temperature={e.temperature} must be positive (the greedy completion is always made)")
    if e.reward_recipe and not e.reward_model:
        raise UserError("eval.reward_recipe trains a reward model but eval.reward_model (the folder to train it "
                        "into) is empty: set eval.reward_model=PATH")
    if e.reward_model and not (e.reward_recipe and not os.path.exists(e.reward_model)):
        problem = reward_run_problem(e.reward_model)
        if problem:
            raise UserError(problem)


def reward_run_problem(path: str) -> str | None:
    """Why the folder at `path` cannot serve as a reward model (an `objective=reward` run), or None."""
    folder = Path(path)
    config = folder / ".hydra" / "config.yaml"
    if not config.is_file():
        return (f"eval.reward_model={path} is not a run folder (no .hydra/config.yaml): give the folder of an "
                "objective=reward run")
    from omegaconf import OmegaConf

    name = OmegaConf.load(config).get("objective", {}).get("name")
    if name != "reward":
        return f"eval.reward_model={path} is a run of objective={name}: give the folder of an objective=reward run"
    if not (folder / "model").is_dir():
        return (f"eval.reward_model={path} has no model/ folder (the run did not finish, or ran with "
                "save_model=false): train it again, or give another reward run")
    return None


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
