"""What keeps a long run's work when the run is killed, preempted or goes numerically wrong; for every trainer.

- Complete checkpoints: transformers writes `checkpoints/checkpoint-N/` file by file, so a kill mid-save leaves a
  half-written folder. After every save (on every process: all of them have written their part) rank 0 adds
  `COMPLETE.json`, written atomically; only folders with it count, so the previous checkpoint stays the one used.
- Resume (`train.resume=auto`): the newest complete checkpoint of the run folder, handed to `trainer.train`, which
  restores weights, optimizer, scheduler, RNG states and the data position. The mean training loss is carried
  over (`COMPLETE.json` keeps the sum of the step losses), so a resumed run's metrics equal an uninterrupted run's.
- Preemption: SIGTERM (what SLURM sends before it kills a job) sets a flag; at the end of the current step every
  process agrees to save a checkpoint and stop, and the runner exits with code 143 so the same command resumes.
- Numeric faults (`train.on_nan`): before each optimizer step the gradients are checked; a NaN or infinite one
  stops the run (`stop`: no further checkpoint is written, so the last complete one is the last good one) or the
  step is skipped (`skip_batch`: every gradient is dropped, so AdamW leaves weights and moments alone; the learning
  rate schedule still advances) and counted.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import torch
from transformers import TrainerCallback

from contrastlab.distributed import barrier, is_main, max_over_ranks
from contrastlab.errors import UserError
from contrastlab.tracking.run_folder import write_json_atomic

COMPLETE = "COMPLETE.json"
_STEP = re.compile(r"^checkpoint-(\d+)$")


class NumericFault(UserError):
    """The loss or a gradient turned NaN or infinite (train.on_nan=stop)."""


def complete_checkpoints(folder: Path) -> list[Path]:
    """The complete checkpoints under `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name)) and (p / COMPLETE).is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint under `folder`, or None."""
    found = complete_checkpoints(folder)
    return found[-1] if found else None


class Resilience(TrainerCallback):
    """Marks complete checkpoints, carries the loss sum over a resume, stops on SIGTERM, and guards against NaN."""

    def __init__(self, trainer, on_nan: str = "stop", resume_from: Path | None = None):
        self.trainer, self.on_nan = trainer, on_nan
        self.resumed_loss_sum = 0.0
        if resume_from is not None:
            self.resumed_loss_sum = float(json.loads((resume_from / COMPLETE).read_text())["loss_sum"])
        self.skipped_batches = 0
        self.preempted_at: int | None = None
        self._sigterm = False
        self._previous_handler = None

    # -- preemption -------------------------------------------------------------------------------------------
    def install(self) -> "Resilience":
        """Catch SIGTERM for the duration of training (main thread only; elsewhere nothing is installed)."""
        try:
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread
            self._previous_handler = None
        return self

    def uninstall(self) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None

    def _on_sigterm(self, signum, frame) -> None:
        self._sigterm = True

    def on_step_end(self, args, state, control, **kwargs):
        if getattr(self.trainer, "is_deepspeed_enabled", False):
            self._check_engine_norm(args, state)
        if max_over_ranks(float(self._sigterm), args.device) > 0:
            control.should_save, control.should_training_stop = True, True
            self.preempted_at = state.global_step

    # -- the mean loss over a resume --------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        # the trainer sums the step losses from 0 in each train() call; continuing the sum of the run before the
        # checkpoint keeps the sum (and the mean) bit for bit what one uninterrupted call gives
        self.trainer._total_loss_scalar = self.resumed_loss_sum

    def loss_sum(self) -> float:
        """The sum of the step losses so far (transformers' private running sums; read at a save or at the end)."""
        return float(self.trainer._total_loss_scalar + self.trainer._tr_loss.item())

    def on_save(self, args, state, control, **kwargs):
        barrier()  # every process has written its part (its RNG state, its shard)
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if is_main() and folder.is_dir():
            write_json_atomic(folder / COMPLETE, {"step": state.global_step, "loss_sum": self.loss_sum()})
        barrier()

    # -- numeric faults ---------------------------------------------------------------------------------------
    def on_pre_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        local_bad = bool(grads) and not torch.isfinite(torch.stack([g.detach().float().norm() for g in grads]).sum())
        if max_over_ranks(float(local_bad), args.device) == 0:
            return
        step = state.global_step + 1
        if self.on_nan == "skip_batch":
            self.skipped_batches += 1
            for p in model.parameters():
                p.grad = None
            print(f"train.on_nan=skip_batch: step {step} had a NaN or infinite gradient; its update was skipped")
            return
        raise NumericFault(self._fault(args, step, skip_hint=True))

    def _check_engine_norm(self, args, state) -> None:
        """Under DeepSpeed the engine steps inside `backward`, before `on_pre_optimizer_step`, and ZeRO keeps the
        gradients out of `p.grad`: what can be read is the global gradient norm of the step the engine just took.
        A NaN or infinite one stops the run (the step's update is applied; the last checkpoint is the last good
        one; `config.validate` refuses `train.on_nan=skip_batch` here). Only a run under DeepSpeed can show it."""
        norm = self.trainer.model_wrapped.get_global_grad_norm()
        bad = norm is not None and not torch.isfinite(torch.as_tensor(norm, dtype=torch.float64)).item()
        if max_over_ranks(float(bad), args.device) > 0:
            raise NumericFault(self._fault(args, state.global_step, skip_hint=False))

    @staticmethod
    def _fault(args, step: int, skip_hint: bool) -> str:
        last = latest_checkpoint(Path(args.output_dir))
        kept = (f"the last good checkpoint is {last} (train.resume=auto continues from it)" if last is not None
                else "no checkpoint was saved before it (set train.save_every to keep some)")  # fmt: skip
        fix = "lower train.lr, check the data" + (", or set train.on_nan=skip_batch to skip such batches"
                                                   if skip_hint else "")  # fmt: skip
        return (f"the loss or a gradient became NaN or infinite at step {step} (learning rate {args.learning_rate}); "
                f"{kept}; {fix}")
