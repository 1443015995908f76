"""What keeps a long run's work when the run is killed, preempted or goes numerically wrong; for every trainer.

- Complete checkpoints: transformers writes `checkpoints/checkpoint-N/` file by file, so a kill mid-save leaves a
  half-written folder. After every save (on every process: all of them have written their part) rank 0 adds
  `COMPLETE.json`, written atomically, with the size and SHA-256 of every file of the checkpoint; only folders with
  it count, so the previous checkpoint stays the one used.
- Resume (`train.resume=auto`): the newest complete checkpoint of the run folder that verifies (`usable_checkpoint`:
  a file cut short or changed by a disk error or an interrupted copy is found by its size and checksum, the folder is
  moved aside as `checkpoint-N.damaged` with a one-line warning, and the next newer one is tried), handed to
  `trainer.train`, which restores weights, optimizer, scheduler, RNG states and the data position. The mean
  training loss is carried over (`COMPLETE.json` keeps the sum of the step losses), so a resumed run's metrics
  equal an uninterrupted run's.
- Preemption: SIGTERM (what SLURM sends before it kills a job) sets a flag; at the end of the current step every
  process agrees to save a checkpoint and stop, and the runner exits with code 143 so the same command resumes.
  The first Ctrl-C (SIGINT) in a terminal is the same stop (exit 130); a second one stops at once.
- Numeric faults (`train.on_nan`): before each optimizer step the gradients are checked; a NaN or infinite one
  stops the run (`stop`: no further checkpoint is written, so the last complete one is the last good one) or the
  step is skipped (`skip_batch`: every gradient is dropped, so AdamW leaves weights and moments alone; the learning
  rate schedule still advances) and counted.
"""

from __future__ import annotations

import hashlib
import json
import re
import signal
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

from contrastlab.distributed import barrier, is_main, max_over_ranks
from contrastlab.errors import UserError
from contrastlab.tracking.run_folder import share_as_umask, write_json_atomic

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


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def file_digests(folder: Path) -> dict[str, dict]:
    """{relative path: {"size", "sha256"}} of every file under `folder` but COMPLETE.json."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != COMPLETE)
    return {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)} for p in files}


def damage(checkpoint: Path) -> str | None:
    """What is wrong with a complete checkpoint (a file missing, cut short, changed or unreadable), or None when
    every file its COMPLETE.json lists has the recorded size and checksum (a COMPLETE.json of an earlier version,
    with no list, is trusted)."""
    try:
        recorded = json.loads((checkpoint / COMPLETE).read_text()).get("files")
    except (OSError, ValueError) as err:
        return f"{COMPLETE} is unreadable ({err})"
    if recorded is None:
        return None
    for name, want in recorded.items():
        path = checkpoint / name
        try:
            size = path.stat().st_size
            if size != want["size"]:
                return f"{name} has {size} bytes, {want['size']} were written"
            if _sha256(path) != want["sha256"]:
                return f"{name} does not match its checksum"
        except OSError as err:
            return f"{name} is unreadable ({err.strerror or err})"
    return None


def usable_checkpoint(folder: Path) -> tuple[Path | None, list[str]]:
    """The newest complete checkpoint under `folder` that verifies (`damage`), and one warning per damaged one,
    each moved aside to `checkpoint-N.damaged` (so no later resume tries it again, and nothing is deleted)."""
    warnings = []
    for checkpoint in reversed(complete_checkpoints(folder)):
        problem = damage(checkpoint)
        if problem is None:
            return checkpoint, warnings
        aside = checkpoint.with_name(checkpoint.name + ".damaged")
        n = 1
        while aside.exists():
            n += 1
            aside = checkpoint.with_name(f"{checkpoint.name}.damaged{n}")
        checkpoint.rename(aside)
        warnings.append(f"{checkpoint} is damaged: {problem}; moved it to {aside.name}")
    return None, warnings


class Resilience(TrainerCallback):
    """Marks complete checkpoints, carries the loss sum over a resume, stops on SIGTERM, and guards against NaN."""

    def __init__(self, trainer, on_nan: str = "stop", resume_from: Path | None = None):
        self.trainer, self.on_nan = trainer, on_nan
        self.resumed_loss_sum = 0.0
        if resume_from is not None:
            self.resumed_loss_sum = float(json.loads((resume_from / COMPLETE).read_text())["loss_sum"])
        self.skipped_batches = 0
        self.preempted_at: int | None = None
        self.stop_signal: int | None = None  # the signal that asked for the stop (SIGTERM or SIGINT)
        self._previous_handlers: dict[int, object] = {}

    # -- preemption -------------------------------------------------------------------------------------------
    def install(self) -> "Resilience":
        """Catch SIGTERM and SIGINT for the duration of training (main thread only; elsewhere nothing is installed)."""
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous_handlers[sig] = signal.signal(sig, self._on_stop)
        except ValueError:  # not the main thread
            self._previous_handlers = {}
        return self

    def uninstall(self) -> None:
        for sig, previous in self._previous_handlers.items():
            signal.signal(sig, previous)
        self._previous_handlers = {}

    def _on_stop(self, signum, frame) -> None:
        if signum == signal.SIGINT and self.stop_signal is not None:  # a second Ctrl-C: stop now, save nothing
            self.uninstall()
            raise KeyboardInterrupt
        if self.stop_signal is None:
            self.stop_signal = signum
        if signum == signal.SIGINT:
            print("\ncontrastlab: Ctrl-C: finishing this step and saving a checkpoint (Ctrl-C again stops at once, "
                  "without one)", file=sys.stderr, flush=True)  # fmt: skip

    def on_step_end(self, args, state, control, **kwargs):
        if getattr(self.trainer, "is_deepspeed_enabled", False):
            self._check_engine_norm(args, state)
        if max_over_ranks(float(self.stop_signal is not None), args.device) > 0:
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
            share_as_umask(folder)
            write_json_atomic(folder / COMPLETE, {"step": state.global_step, "loss_sum": self.loss_sum(),
                                                  "files": file_digests(folder)})
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
