"""transformers TrainerCallbacks that feed our run folder: every logged step to log.jsonl (and W&B),
and the held-out evaluation every `train.eval_every` steps."""

from __future__ import annotations

import time
from typing import Callable

from transformers import TrainerCallback

_SKIP = {"total_flos", "epoch"}


class RunLogCallback(TrainerCallback):
    """Writes each of the trainer's logs as one line of log.jsonl, prefixed `train/`."""

    def __init__(self, runlog):
        self.runlog = runlog
        self.last: dict[str, float] = {}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        if "train_loss" in logs:  # the trainer's end-of-train summary (a step's own loss is "loss"): metrics.json
            return  # has it (train/loss, train/runtime_s); as a line it stayed mid-log after a SIGTERM and a resume
        metrics = {f"train/{k}": v for k, v in logs.items() if k not in _SKIP}
        metrics["train/epoch"] = state.epoch or 0.0
        self.runlog.log(state.global_step, metrics)
        self.last.update(metrics)


class PeriodicEvalCallback(TrainerCallback):
    """Runs `evaluate(model) -> metrics` every `every` optimizer steps and logs it under `eval/`; the seconds it
    takes are added to `clock.seconds` (a `throughput.EvalClock`: not training time)."""

    def __init__(self, evaluate: Callable, every: int, runlog, clock=None, on_eval: Callable | None = None):
        self.evaluate, self.every, self.runlog, self.clock = evaluate, every, runlog, clock
        self.on_eval = on_eval  # (step, metrics, model) -> None: train.keep_best's offer

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every > 0 and state.global_step % self.every == 0 and state.global_step < state.max_steps:
            started = time.perf_counter()
            metrics = self.evaluate(model)
            if self.clock is not None:
                self.clock.seconds += time.perf_counter() - started
            self.runlog.log(state.global_step, {f"eval/{k}": v for k, v in metrics.items()})
            if self.on_eval is not None:
                self.on_eval(state.global_step, metrics, model)


def quiet_progress(trainer) -> None:
    """Keep transformers' training progress bar but show the loss on it instead of printing every log dict."""
    from transformers.trainer_callback import ProgressCallback

    class LossOnBar(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.training_bar is not None and logs and "loss" in logs:
                self.training_bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(LossOnBar())
