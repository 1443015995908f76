"""Glue to TRL's trainers: our `train` block and an objective's fields become a TRL config.

The objective's spec names the TRL trainer (`dpo`, `kto`, `orpo`, `cpo`, `reward`) and maps its own
fields (`spec.trl_args`); everything the objectives share (`train.*`, `hardware.*`) is mapped here once.
"""

from __future__ import annotations

import importlib
import inspect
import math
from pathlib import Path

# TRL trainer name -> (module, config class, trainer class). ORPO and CPO live in trl.experimental in TRL 1.16.
TRL_TRAINERS = {
    "dpo": ("trl", "DPOConfig", "DPOTrainer"),
    "kto": ("trl", "KTOConfig", "KTOTrainer"),
    "orpo": ("trl.experimental.orpo", "ORPOConfig", "ORPOTrainer"),
    "cpo": ("trl.experimental.cpo", "CPOConfig", "CPOTrainer"),
    "reward": ("trl", "RewardConfig", "RewardTrainer"),
}


def trl_classes(name: str):
    module, config_name, trainer_name = TRL_TRAINERS[name]
    mod = importlib.import_module(module)
    return getattr(mod, config_name), getattr(mod, trainer_name)


def shared_args(train_cfg, hardware_cfg, output_dir: Path, num_examples: int) -> dict:
    """TrainingArguments fields common to every TRL trainer."""
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
    }


def build_trl_trainer(trainer_name, objective_args, shared, model, tokenizer, train_dataset, callbacks,
                      peft_config=None, ref_model=None):  # fmt: skip
    """A ready TRL trainer. `ref_model` goes to trainers that take one (DPO, KTO)."""
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
    }
    if "ref_model" in inspect.signature(trainer_cls.__init__).parameters:
        kwargs["ref_model"] = ref_model
    return trainer_cls(**kwargs)
