"""What every trainer gets before it trains, whatever its kind: one device per process, and fp32 master weights.

- **No `nn.DataParallel`.** transformers sets `n_gpu` to the number of visible GPUs in a process that is not one
  of several, and its Trainer then wraps the model in `nn.DataParallel`: replicas that call a forward bound to the
  first GPU's module (TRL's fused LM head patches `forward` on the instance) with inputs on another, and, for the
  embedding trainer, N times the batch with each shard's negatives alone. Several GPUs are used through
  `hardware=ddp|fsdp|deepspeed` (one process each), never by one process, so `n_gpu` is at most 1.
- **fp32 masters** (`models.precision.fp32_masters`): a trainable weight that is not float32 (a head PEFT trains
  beside a LoRA adapter, copied in the base's half dtype) is cast to float32 before the optimizer sees it.
"""

from __future__ import annotations

from contrastlab.models.precision import fp32_masters


def one_device_per_process(trainer) -> None:
    """Keep transformers from wrapping `trainer`'s model in `nn.DataParallel` (see the module docstring)."""
    if trainer.args.n_gpu > 1:
        trainer.args._n_gpu = 1  # read by Trainer._wrap_model and the train batch size, both when training starts


def ready(trainer, hardware) -> None:
    """Make a freshly built trainer follow the two rules of the module docstring."""
    one_device_per_process(trainer)
    fp32_masters(trainer.model, hardware)
