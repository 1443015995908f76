"""What a run cost: training throughput and peak memory, for every trainer, into `metrics.json`.

- `train/samples_per_s`: examples (pairs, for pairwise objectives) of all processes per second of training.
- `train/tokens`: the non-padding tokens the policy read in training (all processes, all steps, a resumed run's
  earlier steps included), counted by transformers (`include_num_input_tokens_seen="non_padding"`) for the
  trainers whose batches carry `input_ids` and `attention_mask` (TRL's DPO, KTO and reward trainers, and ours for
  language models). `train/tokens_per_s`: those of this call of `train()` over its time (after a resume: the steps
  trained since).
- `hardware/peak_gpu_memory_gb`: on CUDA, the most memory PyTorch allocated on one GPU while training (the largest
  over the processes).
- `hardware/peak_rss_gb`: on the CPU, the peak resident memory of one process over its life so far (loading and
  evaluation included; the largest over the processes).
"""

from __future__ import annotations

import resource
import sys
import time

import torch
from transformers import TrainerCallback

from contrastlab.distributed import max_over_ranks

TOKEN_COUNTING = {"include_num_input_tokens_seen": "non_padding"}  # TrainingArguments of the trainers named above


class Throughput(TrainerCallback):
    """Times `trainer.train()`, reads the tokens transformers counted, and the peak memory; `metrics()` afterwards."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.started = self.seconds = None
        self.tokens_at_start = self.steps_at_start = self.tokens = self.samples = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.tokens_at_start = state.num_input_tokens_seen  # a resumed run: what the checkpoint had counted
        self.steps_at_start = state.global_step
        if torch.cuda.is_available() and args.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(args.device)
        self.started = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        if self.started is not None:
            self.seconds = time.perf_counter() - self.started
            steps = state.global_step - self.steps_at_start
            self.samples = steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
            self.tokens = state.num_input_tokens_seen - self.tokens_at_start

    def metrics(self) -> dict[str, float]:
        """Call on every process (the peaks are reduced across processes)."""
        if self.seconds is None:  # stopped before training began
            return {}
        args = self.trainer.args
        out: dict[str, float] = {"train/samples_per_s": self.samples / max(self.seconds, 1e-9)}
        if args.include_num_input_tokens_seen != "no" and self.tokens > 0:
            out["train/tokens"] = float(self.trainer.state.num_input_tokens_seen)
            out["train/tokens_per_s"] = self.tokens / max(self.seconds, 1e-9)
        if args.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(args.device) / 2**30
            out["hardware/peak_gpu_memory_gb"] = max_over_ranks(peak, args.device)
        else:
            kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
            peak = kib / 2**30 if sys.platform == "darwin" else kib / 2**20
            out["hardware/peak_rss_gb"] = max_over_ranks(peak, args.device)
        return out
