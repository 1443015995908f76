"""Checks between fields, run after composition and before any data or weights load.

`validate(cfg)` runs the checks every run shares (train, model, hardware), then the objective's own
(`ObjectiveSpec.validate`), its family's (`Family.check`), the data source's (`data.sources.check_source`), and
whether the source's records feed the objective. Each failure is a `UserError` naming the option and the fix (exit
code 2). A choice that is not one of a field's choices already failed at composition (every choice list is an
Enum). Imports no torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from contrastlab.data.hub import looks_local
from contrastlab.errors import UserError
from contrastlab.objectives import discover
from contrastlab.objectives.base import ObjectiveSpec

MIN_LENGTH = 8  # train.max_length below this holds no prompt and completion of any model's template


def objective_spec(cfg) -> ObjectiveSpec:
    """The spec of `cfg.objective`, or a UserError listing the known objectives."""
    specs = discover()
    name = cfg.objective.name
    if name not in specs:
        raise UserError(f"objective.name={name} is not a known objective; choose from {', '.join(sorted(specs))}")
    return specs[name]


def validate(cfg):
    """Run every check; return (the objective's spec, its family)."""
    from contrastlab.data.records import can_adapt
    from contrastlab.data.sources import check_source, native_record_type
    from contrastlab.families import get

    spec = objective_spec(cfg)
    family = get(spec.family)
    spec.validate(cfg.objective)
    _check_train(cfg.train)
    if cfg.train.keep_best and cfg.train.eval_every < 1:
        raise UserError(f"train.keep_best={cfg.train.keep_best} keeps the best of the evaluations during training, "
                        "but train.eval_every=0 makes none: set train.eval_every=N (steps between evaluations)")
    if cfg.train.keep_best and not cfg.eval.after:
        raise UserError(f"train.keep_best={cfg.train.keep_best} compares the last step's evaluation too, which "
                        "eval.after=false turns off: drop eval.after=false")
    if cfg.train.max_steps == 0 and not cfg.eval.after:
        raise UserError("train.max_steps=0 evaluates without training, but eval.after=false turns that evaluation "
                        "off: drop eval.after=false")
    # the data's records first: a mismatch is the one mistake to name, not a family's rule the wrong data breaks
    check_source(cfg.data)
    native = native_record_type(cfg.data)
    if not can_adapt(native, spec.record):
        raise UserError(
            f"objective={spec.name} needs {spec.record.__name__} records but data={cfg.data.name} gives "
            f"{native.__name__} records, and there is no sound conversion; choose data that gives them"
            + _data_hint(spec.record)
        )
    family.check(cfg, spec)
    _check_reward(cfg, spec)
    problem = spec.check_run(cfg) if spec.check_run else None
    if problem:
        raise UserError(problem)
    m, hw = cfg.model, cfg.hardware
    if m.source == "hub" and not m.path:
        raise UserError(f"model={m.name} loads from the hub but model.path is empty: give a hub id or a local folder")
    if m.source == "hub" and looks_local(str(m.path)) and not Path(str(m.path)).expanduser().is_dir():
        raise UserError(f"model.path={m.path} is a local folder that does not exist (a hub id is 'name' or "
                        "'owner/name'): give an existing folder of weights, or a hub id")
    if m.lora.enabled and m.lora.r < 1:
        raise UserError(f"model.lora.r={m.lora.r} must be at least 1")
    if m.dtype in ("bfloat16", "float16") and not m.lora.enabled:  # models.precision: trained weights are fp32
        raise UserError(f"model.dtype={m.dtype} stores the weights in half precision, but full fine-tuning "
                        "(model.lora.enabled=false) trains them, and trained weights are kept in float32 (the "
                        f"optimizer's master copy: updates below half a {m.dtype} step would be lost): use "
                        "model.dtype=auto (hardware.precision=bf16 still computes in bf16), or train a LoRA adapter")
    if hw.device == "cpu" and hw.precision == "fp16":
        raise UserError("hardware.precision=fp16 needs a GPU: on the CPU use fp32 or bf16")
    if hw.device == "cuda" and os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        raise UserError("hardware.device=cuda but CUDA_VISIBLE_DEVICES is empty: use hardware=cpu")
    _check_hardware(cfg)
    return spec, family


def _check_reward(cfg, spec) -> None:
    """A reward is given exactly when something reads it: an on-policy objective, or eval.generate."""
    from contrastlab import rewards

    reward = cfg.get("reward")
    sources = rewards.chosen(reward) if reward is not None else []
    trains_on_it = spec.needs(cfg.objective).reward
    if trains_on_it and not sources:
        raise UserError(f"objective={spec.name} learns from a reward of what the policy writes, but reward=none: "
                        "choose one, e.g. reward=lexicon, reward=length, reward=model reward.path=RUN_FOLDER or "
                        "reward=python reward.function=module:function")
    if sources and not trains_on_it and not cfg.eval.generate:
        raise UserError(f"reward={'+'.join(sources)} scores what the policy writes, but objective={spec.name} learns "
                        "from its data and eval.generate=false, so nothing would read it: add eval.generate=true to "
                        "score the trained policy's completions, or drop the reward")
    if sources:
        e = cfg.eval
        rewards.check(reward, (str(e.reward_model),) if e.generate and e.reward_model and e.reward_recipe else ())


def _check_train(t) -> None:
    for key in ("batch_size", "grad_accum", "max_length", "log_every"):
        if getattr(t, key) < 1:
            raise UserError(f"train.{key}={getattr(t, key)} must be at least 1")
    if t.max_length < MIN_LENGTH:
        raise UserError(f"train.max_length={t.max_length} tokens cannot hold a prompt and a completion (a chat "
                        f"template alone takes several): give at least {MIN_LENGTH}; 256 or more is usual")
    if t.max_steps < -1:
        raise UserError(f"train.max_steps={t.max_steps}: give a positive number of steps, -1 to run train.epochs, "
                        "or 0 to evaluate without training")

    if t.max_steps == -1 and t.epochs <= 0:
        raise UserError(f"train.epochs={t.epochs} must be positive when train.max_steps=-1")
    if not 0.0 <= t.warmup < 1.0:
        raise UserError(f"train.warmup={t.warmup} is a fraction of the steps: give a value in [0, 1)")
    if t.lr <= 0:
        raise UserError(f"train.lr={t.lr} must be positive")


def _data_hint(record: type) -> str:
    """ " (data=a, data=b, or data=jsonl with ...)": the sources whose records feed `record`, and the file form."""
    from contrastlab.data.records import can_adapt
    from contrastlab.data.sources import discover as sources

    names = [f"data={s.name}" for s in sources().values() if s.record is not None and can_adapt(s.record, record)]
    if record.file_hint:
        names.append(record.file_hint)
    if not names:
        return ""
    return f" ({', '.join(names[:-1])}, or {names[-1]})" if len(names) > 1 else f" ({names[0]})"


def _check_hardware(cfg) -> None:
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
    if strategy == "fsdp":
        _check_fsdp(cfg)
    if strategy == "deepspeed":
        _check_deepspeed(cfg)
    if strategy == "deepspeed" and t.on_nan == "skip_batch":
        raise UserError("train.on_nan=skip_batch drops a step's gradients before the optimizer steps, and DeepSpeed's "
                        "engine steps inside backward: use train.on_nan=stop (the run stops at the first NaN step)")
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
