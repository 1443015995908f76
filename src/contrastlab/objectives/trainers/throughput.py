"""What a run cost: training throughput and peak memory, for every trainer, into `metrics.json`.

- `train/samples_per_s`, `train/tokens_per_s`: examples (pairs, for pairwise objectives) and non-padding tokens of
  all processes per second of *steady* training: timed from the end of the first step of this `train()` call (the
  warm-up: CUDA kernels chosen and compiled, allocator caches filled, the data loader started) to the end, less the
  time of the held-out evaluations run during training (`train.eval_every`). `train/timed_steps` and
  `train/timed_s` say what was timed. A call that trains one step is timed whole.
- `train/tokens`: the non-padding tokens the policy read in training (all processes, all steps, a resumed run's
  earlier steps included), counted by transformers (`include_num_input_tokens_seen="non_padding"`) for the
  trainers whose batches carry `input_ids` and `attention_mask` (TRL's DPO, KTO and reward trainers, and ours for
  language models).
- `hardware/peak_gpu_memory_gb`: on CUDA, the most memory PyTorch allocated on one GPU over the whole job (loading,
  evaluation, training, generation; the largest over the processes): `reset_peak_memory` at its start,
  `peak_memory` at its end.
- `hardware/peak_rss_gb`: on the CPU, the peak resident memory of one process over its life (the largest over the
  processes).
"""

from __future__ import annotations

import resource
import sys
import time

import torch
from transformers import TrainerCallback

from contrastlab.distributed import max_over_ranks

TOKEN_COUNTING = {"include_num_input_tokens_seen": "non_padding"}  # TrainingArguments of the trainers named above


class EvalClock:
    """The seconds spent in held-out evaluations during training (added by whoever runs them)."""

    def __init__(self):
        self.seconds = 0.0


class Throughput(TrainerCallback):
    """Times the steady steps of `trainer.train()` and reads the tokens transformers counted; `metrics()` afterwards.
    `clock`: the evaluations during training, whose time is not training time."""

    def __init__(self, trainer, clock: EvalClock | None = None):
        self.trainer, self.clock = trainer, clock or EvalClock()
        self.start = None  # (time, tokens, step, evaluation seconds) at the start of the timed steps
        self.timed = None  # (seconds, tokens, steps) of the timed steps
        self.first_step = None  # the step this train() call started from

    def _mark(self, state) -> tuple:
        return time.perf_counter(), state.num_input_tokens_seen, state.global_step, self.clock.seconds

    def on_train_begin(self, args, state, control, **kwargs):
        self.first_step, self.start = state.global_step, self._mark(state)  # replaced after the warm-up step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.first_step + 1 and state.global_step < state.max_steps:
            self.start = self._mark(state)  # the first step was the warm-up

    def on_train_end(self, args, state, control, **kwargs):
        if self.start is None:
            return
        now, tokens, step, evaluating = self._mark(state)
        began, tokens_before, step_before, evaluating_before = self.start
        self.timed = (now - began - (evaluating - evaluating_before), tokens - tokens_before, step - step_before)

    def metrics(self) -> dict[str, float]:
        """Call on every process."""
        if self.timed is None:  # stopped before training began
            return {}
        seconds, tokens, steps = self.timed
        seconds = max(seconds, 1e-9)
        args = self.trainer.args
        samples = steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        out: dict[str, float] = {"train/samples_per_s": samples / seconds, "train/timed_steps": steps,
                                 "train/timed_s": seconds}  # fmt: skip
        if args.include_num_input_tokens_seen != "no" and tokens > 0:
            out["train/tokens"] = float(self.trainer.state.num_input_tokens_seen)
            out["train/tokens_per_s"] = tokens / seconds
        return out


def reset_peak_memory(device: str) -> None:
    """Start counting the peak GPU memory of this job (a no-op on the CPU, whose peak RSS is the process's)."""
    if device == "cuda" and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _high_water_kib() -> int | None:
    """This program's peak resident memory (Linux: VmHWM, which starts afresh at exec). `ru_maxrss` keeps the
    high-water mark of what the process was before exec: a run started by a 4 GB parent (a test worker, a launcher)
    would report the parent's 4 GB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_memory(device: str) -> dict[str, float]:
    """The peak memory of one process since `reset_peak_memory` (GPU) or over its life (CPU RSS), the largest over
    the processes. Call on every process."""
    if device == "cuda" and torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated() / 2**30
        return {"hardware/peak_gpu_memory_gb": max_over_ranks(peak, torch.device("cuda", torch.cuda.current_device()))}
    kib = _high_water_kib()
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    peak = kib / 2**30 if sys.platform == "darwin" else kib / 2**20
    return {"hardware/peak_rss_gb": max_over_ranks(peak, torch.device("cpu"))}
