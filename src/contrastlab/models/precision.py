"""The one precision policy, the same on the CPU (bf16 on AMX units) and on a GPU, for every trainer and evaluation.

- **Trainable weights are stored in float32**: they are the optimizer's master copy, so an update smaller than half
  a bf16 step is not lost (AdamW at lr 5e-6 on bf16 weights changes almost none of them). `hardware.precision` is
  the precision of the *compute*: bf16 or fp16 autocast (transformers' `bf16`/`fp16` arguments; fp16 with a gradient
  scaler, which needs fp32 weights to unscale), or the engine's own mixed precision (FSDP2's policy; DeepSpeed's
  bf16/fp16 sections, which keep fp32 masters in the optimizer).
- **Frozen weights may be stored in half precision**: the base of a LoRA adapter, a reward model that scores
  completions, are stored at `model.dtype` (`auto`: the hardware's precision, so bf16 on a GPU), since nothing
  updates them. A frozen copy of a fully trained policy (its reference) keeps the policy's float32, so that the
  policy and its reference compute the same numbers at step 0 (a log-ratio of exactly 0).
- **Every forward compared with the policy's runs under the same autocast** (`compute`): the reference, the
  precomputed reference, the held-out evaluations before and after training, generation, GradCache's chunks.
  accelerate wraps only the prepared model's `forward` in autocast, and only from the start of training, so
  without this the "before" evaluation and a frozen reference would run in float32 and the "after" one in bf16.
"""

from __future__ import annotations

import contextlib

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PRECISION_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def weight_dtype(model_cfg, hardware, trained: bool) -> torch.dtype:
    """The dtype the weights are stored in: float32 for weights the run trains (full fine-tuning), `model.dtype`
    for frozen ones (`auto`: the hardware's precision). `config.validate` refuses a half `model.dtype` for full
    fine-tuning, so `trained` never overrides a dtype the user chose."""
    if trained:
        return torch.float32
    if str(model_cfg.dtype) == "auto":
        return PRECISION_DTYPES[str(hardware.precision)]
    return DTYPES[str(model_cfg.dtype)]


def trains_base_weights(model_cfg) -> bool:
    """Whether the run trains the model's own weights (full fine-tuning), not a LoRA adapter beside them."""
    return not model_cfg.lora.enabled


def compute(hardware):
    """The autocast the policy's forward runs under in training, for any other forward to run under too (a no-op
    context for fp32)."""
    dtype = PRECISION_DTYPES[str(hardware.precision)]
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=str(hardware.device), dtype=dtype)


def fp32_masters(model, hardware) -> list[str]:
    """Cast every trainable parameter of `model` that is not float32 to float32 (a LoRA adapter's are already; a
    head PEFT copies to train beside it, `modules_to_save`, is in the base's dtype); the names cast. Not under
    DeepSpeed, whose engine keeps its own fp32 masters and wants one dtype for the partitioned weights."""
    if str(hardware.strategy) == "deepspeed":
        return []
    cast = []
    for name, param in model.named_parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
            cast.append(name)
    return cast
