"""Glue to TRL's trainers: our `train` block and an objective's fields become a TRL config.

A `TrlObjective` names the TRL trainer (a key of `TRL_TRAINERS`) and maps its own fields (`trl_args`);
everything the objectives share (`train.*`, `hardware.*`) is mapped here once.
A trainer that precomputes reference log-probs (DPO, KTO) computes them for the rows the run reads only
(`rows_read`) and, with `ref_cache_dir`, reads and writes them through the on-disk cache of `ref_cache` (a
subclass whose `_precompute_ref_logps` does both, `precomputing`).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
from pathlib import Path
from typing import NamedTuple, Optional

log = logging.getLogger(__name__)


class TrlTrainer(NamedTuple):
    module: str  # where TRL 1.16 keeps it (ORPO and CPO live in trl.experimental)
    config: str  # its config class
    trainer: str  # its trainer class
    counts_tokens: bool  # its batches carry input_ids and attention_mask: transformers counts the tokens read


TRL_TRAINERS = {  # TRL's trainer class -> where it lives and how it reads batches
    "DPOTrainer": TrlTrainer("trl", "DPOConfig", "DPOTrainer", counts_tokens=True),
    "KTOTrainer": TrlTrainer("trl", "KTOConfig", "KTOTrainer", counts_tokens=True),
    "ORPOTrainer": TrlTrainer("trl.experimental.orpo", "ORPOConfig", "ORPOTrainer", counts_tokens=False),
    "CPOTrainer": TrlTrainer("trl.experimental.cpo", "CPOConfig", "CPOTrainer", counts_tokens=False),
    "RewardTrainer": TrlTrainer("trl", "RewardConfig", "RewardTrainer", counts_tokens=True),
    "SFTTrainer": TrlTrainer("trl", "SFTConfig", "SFTTrainer", counts_tokens=True),
    "GRPOTrainer": TrlTrainer("trl", "GRPOConfig", "GRPOTrainer", counts_tokens=False),
    "RLOOTrainer": TrlTrainer("trl", "RLOOConfig", "RLOOTrainer", counts_tokens=False),
    "OnlineDPOTrainer": TrlTrainer("trl.experimental.online_dpo", "OnlineDPOConfig", "OnlineDPOTrainer",
                                   counts_tokens=False),
}


def trl_classes(name: str):
    entry = TRL_TRAINERS[name]
    mod = importlib.import_module(entry.module)
    return getattr(mod, entry.config), getattr(mod, entry.trainer)


def shared_args(train_cfg, hardware_cfg, output_dir: Path, num_examples: int, hidden_size: int | None = None) -> dict:
    """TrainingArguments fields common to every trainer; `hidden_size`: the model's, for DeepSpeed's bucket sizes."""
    steps = train_cfg.max_steps
    if steps == -1:
        per_step = train_cfg.batch_size * train_cfg.grad_accum
        steps = max(1, math.ceil(train_cfg.epochs * num_examples / per_step))
    return {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": train_cfg.batch_size,
        "gradient_accumulation_steps": train_cfg.grad_accum,
        "learning_rate": train_cfg.lr,
        "lr_scheduler_type": "linear",
        "warmup_steps": int(round(train_cfg.warmup * steps)),
        "weight_decay": train_cfg.weight_decay,
        "max_grad_norm": train_cfg.max_grad_norm,
        "max_steps": steps,
        "logging_steps": train_cfg.log_every,
        "logging_first_step": True,
        "save_strategy": "steps" if train_cfg.save_every > 0 else "no",
        "save_steps": train_cfg.save_every if train_cfg.save_every > 0 else 500,
        "eval_strategy": "no",
        "seed": train_cfg.seed,
        "data_seed": train_cfg.seed,
        "report_to": "none",
        "use_cpu": hardware_cfg.device == "cpu",
        "bf16": hardware_cfg.precision == "bf16",
        "fp16": hardware_cfg.precision == "fp16",
        "dataloader_num_workers": 0,
        "disable_tqdm": False,
        "max_length": train_cfg.max_length,
        **({} if train_cfg.gradient_checkpointing is None else {"gradient_checkpointing": train_cfg.gradient_checkpointing}),
        **({"train_sampling_strategy": "sequential"} if train_cfg.curriculum else {}),
        **engine_args(hardware_cfg, train_cfg, hidden_size),
    }


def engine_args(hw, train_cfg, hidden_size: int | None = None) -> dict:
    """TrainingArguments fields for several processes: the process-group backend, and the engine's own options
    (`hardware.fsdp.*` as transformers' `fsdp_config`, `hardware.deepspeed.*` as a DeepSpeed config with every value
    concrete, see `deepspeed_config`)."""
    if hw.strategy == "single" or hw.num_processes == 1 and hw.strategy == "ddp":
        return {}
    args: dict = {"ddp_backend": hw.backend or ("gloo" if hw.device == "cpu" else "nccl"),
                  "ddp_find_unused_parameters": False}  # every trainable weight takes part in every step  # fmt: skip
    if hw.strategy == "fsdp":
        f = hw.fsdp
        args["fsdp"] = True
        args["fsdp_config"] = {
            "version": 2,
            "reshard_after_forward": f.reshard_after_forward,
            "auto_wrap_policy": f.auto_wrap_policy,
            "min_num_params": f.min_num_params,
            "cpu_offload": f.cpu_offload,
            "activation_checkpointing": f.activation_checkpointing,
            "state_dict_type": f.state_dict_type,
            "cpu_ram_efficient_loading": f.cpu_ram_efficient_loading,
            **({"transformer_layer_cls_to_wrap": list(f.transformer_layer_cls_to_wrap)}
               if f.transformer_layer_cls_to_wrap else {}),  # fmt: skip
        }
        if f.activation_checkpointing:  # FSDP's own, instead of the model's (validate refuses both set to true)
            args["gradient_checkpointing"] = False
    elif hw.strategy == "deepspeed":
        args["deepspeed"] = deepspeed_config(hw, train_cfg, hidden_size)
    return args


def deepspeed_config(hw, train, hidden_size: int | None = None) -> dict:
    """The DeepSpeed config of `hardware.deepspeed` (ZeRO stage `zero_stage`, or the user's own JSON file), with no
    "auto" left: the batch sizes, accumulation, clipping, optimizer and precision from `train.*` and the hardware,
    the bucket sizes from the model's hidden size (transformers' own rules for "auto"). transformers would fill
    "auto" only when training starts, and TRL hands the config to DeepSpeed for its reference copy before that."""
    ds = hw.deepspeed
    values = _deepspeed_values(hw, train, hidden_size)
    if ds.config:
        import json

        from contrastlab.errors import UserError

        config = _fill_auto(json.loads(Path(ds.config).read_text()), values)
        left = sorted(_auto_keys(config))
        if left:
            raise UserError(f"hardware.deepspeed.config={ds.config} leaves {', '.join(left)} as \"auto\", which "
                            "contrastlab cannot fill: give a value")  # fmt: skip
        return config
    zero: dict = {"stage": ds.zero_stage, "overlap_comm": ds.overlap_comm,
                  "contiguous_gradients": ds.contiguous_gradients}  # fmt: skip
    if ds.offload_optimizer != "none":
        zero["offload_optimizer"] = {"device": ds.offload_optimizer, "pin_memory": True}
    if ds.zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = ds.gather_16bit_weights_on_model_save
        if ds.offload_param != "none":
            zero["offload_param"] = {"device": ds.offload_param, "pin_memory": True}
    config = {"zero_optimization": {**zero, "reduce_bucket_size": "auto",
                                    **({"stage3_prefetch_bucket_size": "auto",
                                        "stage3_param_persistence_threshold": "auto"} if ds.zero_stage == 3 else {})},
              "bf16": {"enabled": "auto"}, "fp16": {"enabled": "auto"},
              "optimizer": {"type": "AdamW", "params": {"lr": "auto", "betas": "auto", "eps": "auto",
                                                        "weight_decay": "auto"}},
              "gradient_accumulation_steps": "auto", "gradient_clipping": "auto", "train_batch_size": "auto",
              "train_micro_batch_size_per_gpu": "auto"}  # fmt: skip
    return _drop_auto(_fill_auto(config, values))  # bucket sizes without a hidden size: DeepSpeed's defaults


def _deepspeed_values(hw, train, hidden_size: int | None) -> dict:
    """Dotted DeepSpeed keys -> the values "auto" stands for (transformers' HfTrainerDeepSpeedConfig rules, with
    TrainingArguments' AdamW defaults)."""
    values = {
        "train_micro_batch_size_per_gpu": train.batch_size,
        "gradient_accumulation_steps": train.grad_accum,
        "train_batch_size": train.batch_size * train.grad_accum * hw.num_processes,
        "gradient_clipping": train.max_grad_norm,
        "bf16.enabled": hw.precision == "bf16",
        "fp16.enabled": hw.precision == "fp16",
        "optimizer.params.lr": train.lr,
        "optimizer.params.betas": [0.9, 0.999],
        "optimizer.params.eps": 1e-8,
        "optimizer.params.weight_decay": train.weight_decay,
    }
    if hidden_size:
        values.update({"zero_optimization.reduce_bucket_size": hidden_size * hidden_size,
                       "zero_optimization.stage3_prefetch_bucket_size": int(0.9 * hidden_size * hidden_size),
                       "zero_optimization.stage3_param_persistence_threshold": 10 * hidden_size})  # fmt: skip
    return values


def _fill_auto(config: dict, values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out[key] = _fill_auto(value, values, f"{path}.")
        else:
            out[key] = values.get(path, value) if value == "auto" else value
    return out


def _auto_keys(config: dict, prefix: str = ""):
    for key, value in config.items():
        if isinstance(value, dict):
            yield from _auto_keys(value, f"{prefix}{key}.")
        elif value == "auto":
            yield f"{prefix}{key}"


def _drop_auto(config: dict) -> dict:
    return {k: _drop_auto(v) if isinstance(v, dict) else v for k, v in config.items() if v != "auto"}


# TRL config fields that change the precomputed reference log-probs (those a config class has go into the key)
_REF_SETTINGS = ("max_length", "truncation_mode", "padding_free", "pad_to_multiple_of", "ld_alpha", "bf16", "fp16",
                 "use_logits_to_keep")  # fmt: skip
_PRECOMPUTING_CLASSES: dict[type, type] = {}


def _ref_settings(trainer, batch_size: int) -> dict:
    """What the precomputed reference log-probs of a TRL trainer depend on besides the weights and the token ids."""
    settings = {name: getattr(trainer.args, name) for name in _REF_SETTINGS if hasattr(trainer.args, name)}
    collator = trainer.data_collator
    settings.update(batch_size=batch_size, device=trainer.accelerator.device.type, collator=type(collator).__name__,
                    pad_token_id=getattr(collator, "pad_token_id", None),
                    calculate_KL=getattr(trainer, "calculate_KL", None))  # fmt: skip
    return settings


def _ref_columns(trainer, dataset) -> list[str]:
    """The columns the reference forward consumes: the trainer's signature columns (token ids) less the outputs."""
    trainer._set_signature_columns_if_needed()
    columns = [c for c in trainer._signature_columns if c in dataset.column_names and not c.startswith("ref_")]
    return columns or [c for c in dataset.column_names if not c.startswith("ref_")]


def precomputing(trainer_cls: type) -> type:
    """`trainer_cls` (a TRL trainer with `_precompute_ref_logps`) computing the training set's reference log-probs
    for the rows the run will read only (`rows_read`), and, given `ref_cache_dir=` (None: off), reading them from
    the on-disk cache there or storing them after computing them; made once a class. The instance's
    `ref_cache_info` holds the `ref_cache/*` metrics of the train set's precompute."""
    if trainer_cls in _PRECOMPUTING_CLASSES:
        return _PRECOMPUTING_CLASSES[trainer_cls]
    from contrastlab.objectives.trainers.ref_cache import cached_reference
    from contrastlab.objectives.trainers import rows_read as ahead

    kind = f"{trainer_cls.__module__.split('.')[0]}.{trainer_cls.__name__}"

    class Precomputing(trainer_cls):
        def __init__(self, *args, ref_cache_dir=None, **kwargs):
            self.ref_cache_dir = None if ref_cache_dir is None else Path(ref_cache_dir)
            self.ref_cache_info = {}
            super().__init__(*args, **kwargs)

        def _precompute_ref_logps(self, dataset, name, batch_size):
            compute = super()._precompute_ref_logps

            def on(part):
                if self.ref_cache_dir is None:
                    return compute(part, name, batch_size)
                if self.is_deepspeed_enabled or self.is_fsdp_enabled:  # sharded weights: no fingerprint all share
                    log.warning("reference log-prob cache: off under DeepSpeed and FSDP")
                    return compute(part, name, batch_size)
                model = self.accelerator.unwrap_model(self.ref_model or self.model)
                result, info = cached_reference(
                    part, lambda: compute(part, name, batch_size), self.ref_cache_dir, kind, model,
                    _ref_columns(self, part), _ref_settings(self, batch_size), main=self.accelerator.is_main_process,
                )
                if name == "train":
                    self.ref_cache_info = info
                return result

            rows = ahead.rows_read(self) if name == "train" else None
            return ahead.precompute_rows(dataset, rows, on, lambda row: float("nan"))

        def compute_loss(self, model, inputs, *args, **kwargs):
            if self.precompute_ref_logps:
                ahead.check_read(inputs, ("ref_chosen_logps", "ref_rejected_logps", "ref_logps", "ref_KL_logps"))
            return super().compute_loss(model, inputs, *args, **kwargs)

    Precomputing.__name__, Precomputing.__qualname__ = trainer_cls.__name__, trainer_cls.__qualname__
    _PRECOMPUTING_CLASSES[trainer_cls] = Precomputing
    return Precomputing


def build_trl_trainer(trainer_name, objective_args, shared, model, tokenizer, train_dataset, callbacks,
                      peft_config=None, ref_model=None, ref_cache_dir: Optional[Path] = None, **more):  # fmt: skip
    """A ready TRL trainer. `ref_model` goes to trainers that take one (DPO, KTO). `ref_cache_dir` (None = off):
    the root of the reference log-prob cache, used by trainers that precompute them (`precompute_ref_log_probs`)."""
    config_cls, trainer_cls = trl_classes(trainer_name)
    fields = {f for f in inspect.signature(config_cls).parameters}
    args = config_cls(**{k: v for k, v in {**shared, **objective_args}.items() if k in fields})
    kwargs = {
        "model": model,
        "args": args,
        "train_dataset": train_dataset,
        "processing_class": tokenizer,
        "callbacks": callbacks,
        "peft_config": peft_config,
        **more,  # what a kind adds (an on-policy trainer's reward_funcs)
    }
    if "ref_model" in inspect.signature(trainer_cls.__init__).parameters:
        kwargs["ref_model"] = ref_model
    precomputes = getattr(args, "precompute_ref_log_probs", False) and hasattr(trainer_cls, "_precompute_ref_logps")
    if precomputes:
        trainer_cls, kwargs["ref_cache_dir"] = precomputing(trainer_cls), ref_cache_dir
    return trainer_cls(**kwargs)
