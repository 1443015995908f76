"""One job, start to end, in one process: data -> the family's model and evaluation -> the objective's trainer ->
evaluate, train, evaluate -> the run folder. Run by the pipeline for a plan that needs no launch, and by each worker
process of one that does (only rank 0 writes the run folder and logs to W&B).

Heavy imports (torch, transformers, TRL) happen here and not before, so `--help` and `--cfg job` stay fast.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import time
import warnings
from pathlib import Path

from omegaconf import OmegaConf

from contrastlab.data.records import adapt
from contrastlab.data.sources import load_records
from contrastlab.distributed import is_main
from contrastlab.errors import UserError
from contrastlab.families import FamilyContext
from contrastlab.objectives.kinds import TrainerContext
from contrastlab.objectives.trainers.keep_best import KeepBest
from contrastlab.objectives.trainers.throughput import reset_peak_memory
from contrastlab.tracking.model_card import write_card
from contrastlab.tracking.run_folder import RunLog, share_as_umask, write_json_atomic
from contrastlab.tracking.summary import print_summary
from contrastlab.tracking.wandb_run import open_wandb

PREEMPTED_EXIT = 143  # 128 + SIGTERM, what a shell reports for a process the signal ended
INTERRUPTED_EXIT = 130  # 128 + SIGINT (Ctrl-C)


def _quiet() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    datasets.disable_progress_bars()


def run_job(plan) -> dict[str, float]:
    """Train and evaluate the plan's run in this process; its metrics (also in metrics.json, written by rank 0)."""
    started = time.time()
    _quiet()
    import torch

    cfg, spec, family, hw, run_dir = plan.cfg, plan.objective, plan.family, plan.hardware, plan.run_dir
    if hw.threads:
        torch.set_num_threads(hw.threads)
    reset_peak_memory(hw.device)
    main = is_main()

    data_counts: dict[str, float] = {}  # data/skipped, data/skipped/<reason>; data/truncated once tokenized
    train_records, eval_records = load_records(cfg.data, data_counts)
    train_records = adapt(train_records, spec.record, data_name=cfg.data.name)
    problem = spec.check_records(cfg.objective, train_records) if spec.check_records else None
    if problem:
        raise UserError(problem)
    if cfg.train.curriculum and train_records:
        train_records = type(train_records[0]).by_difficulty(train_records, cfg.data.name)
    config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    wandb_run = open_wandb(cfg.logger, config, run_dir, plan.run_name, plan.sweep_group) if main else None
    with RunLog(run_dir, wandb_run, write=main) as runlog:
        try:
            metrics, described = _train(plan, train_records, eval_records, data_counts, runlog)
        except (OSError, RuntimeError) as err:
            if not _is_write_failure(err):
                raise
            raise UserError(_write_failed(err, run_dir)) from None
        metrics.update(data_counts)
        metrics["time/total_s"] = time.time() - started
        if hw.num_processes > 1:
            metrics["hardware/num_processes"] = hw.num_processes
        if main:
            write_json_atomic(run_dir / "metrics.json", metrics)
            if (run_dir / "model").is_dir():
                write_card(run_dir / "model", cfg, metrics, run_dir, described)
                share_as_umask(run_dir / "model")
            with contextlib.suppress(OSError):  # the trainer's output folder, empty when no checkpoint was saved
                (run_dir / "checkpoints").rmdir()
        runlog.summary(metrics)
    if main:
        print_summary(cfg, metrics, run_dir, described, family.metric_order)
    return metrics


WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}  # a disk that took no more


def _is_write_failure(err: BaseException) -> bool:
    """A write the disk refused: an OSError of `WRITE_ERRORS`, or torch.save's own report of one (its zip writer
    raises RuntimeError "[enforce fail at inline_container.cc] ... unexpected pos" / "file write failed")."""
    if isinstance(err, OSError):
        return err.errno in WRITE_ERRORS
    return "inline_container.cc" in str(err) or "PytorchStreamWriter failed" in str(err)


def _write_failed(err: OSError | RuntimeError, run_dir: Path) -> str:
    """The one line of a write that failed while saving (a full disk, a quota, an I/O error): the path, the free
    space on its disk and about what a save needs (the newest complete checkpoint's size, or model/'s), and that the
    newest complete checkpoint is still the one a rerun resumes from."""
    import shutil

    from contrastlab.objectives.trainers.resilience import latest_checkpoint

    filename = getattr(err, "filename", None)
    path = Path(filename) if filename else run_dir / "checkpoints"
    existing = next((p for p in (path, *path.parents) if p.exists()), run_dir)
    free = shutil.disk_usage(existing).free
    last = latest_checkpoint(run_dir / "checkpoints")
    sized = last if last is not None else run_dir / "model"
    need = sum(f.stat().st_size for f in sized.rglob("*") if f.is_file()) if sized.is_dir() else 0
    needs = f"; a save needs about {need / 1e9:.2f} GB (the size of {sized.name})" if need else ""
    kept = (f"the newest complete checkpoint, {last.name}, is intact and the same command resumes from it" if last
            else "no complete checkpoint was saved before it (set train.save_every to keep some)")  # fmt: skip
    reason = getattr(err, "strerror", None) or "the disk took no more (torch.save's writer failed)"
    return (f"could not write {path}: {reason}; {free / 1e9:.2f} GB free on its disk{needs}; {kept}; "
            "free some space (or point hydra.run.dir at another disk) and run again")


def _train(plan, train_records, eval_records, data_counts, runlog) -> tuple[dict[str, float], str]:
    """The family's session, the objective's trainer, evaluation before and after training, the family's finish."""
    from contrastlab.objectives.trainers.callbacks import PeriodicEvalCallback, RunLogCallback, quiet_progress
    from contrastlab.objectives.trainers.devices import ready
    from contrastlab.objectives.trainers.throughput import EvalClock, peak_memory

    cfg, family = plan.cfg, plan.family
    session = family.session(FamilyContext(cfg=cfg, hardware=plan.hardware, objective=plan.objective,
                                           train_records=train_records, eval_records=eval_records,
                                           data_counts=data_counts, run_dir=plan.run_dir, runlog=runlog))  # fmt: skip
    if cfg.train.max_steps == 0:
        return _evaluate_only(plan, session, runlog), session.described
    log_cb, clock = RunLogCallback(runlog), EvalClock()
    keep = KeepBest(cfg.train.keep_best, str(cfg.train.keep_best_mode)) if cfg.train.keep_best else None

    def on_eval(step: int, metrics: dict, model) -> None:
        """An evaluation during training: its per-example values (examples/step-N.jsonl), keep_best's offer."""
        if session.last_examples and is_main():
            from contrastlab.tracking.examples import write_examples

            write_examples(plan.run_dir, f"step-{step}", session.last_examples)
        if keep is not None:
            keep.offer(step, metrics, model, session.last_examples)

    callbacks = [log_cb, PeriodicEvalCallback(session.evaluate, cfg.train.eval_every, runlog, clock, on_eval)]
    trainer, num_train = plan.objective.build_trainer(TrainerContext(
        cfg=cfg, hardware=plan.hardware, run_dir=plan.run_dir, records=train_records, model=session.model,
        tokenizer=session.tokenizer, chat=session.chat, lora_task=family.lora_task, callbacks=callbacks,
        runlog=runlog))  # fmt: skip
    ready(trainer, plan.hardware)  # one device per process, fp32 master weights (trainers.devices)
    quiet_progress(trainer)
    metrics, result = _before_after(cfg, session, trainer, runlog, plan.run_dir, clock, keep)
    metrics.update(session.finish(trainer, runlog))
    metrics.update(peak_memory(plan.hardware.device))  # the whole job's: loading, evaluation, training, generation
    metrics = {"data/num_train": num_train, "data/num_eval": session.num_eval, **metrics,
               **_train_metrics(trainer, result, log_cb)}  # fmt: skip
    metrics.update(getattr(trainer, "ref_cache_info", {}))  # ref_cache/hit, ref_cache/seconds: a precomputed reference
    return metrics, session.described


def _evaluate_only(plan, session, runlog) -> dict[str, float]:
    """`train.max_steps=0`: the held-out evaluation (and the family's measurements, generation) of the model as it
    loads (model.init: a run's model, its adapter unmerged), with no trainer. before/ is its reference (the run's
    own starting model; the model itself when it has no other), after/ the model."""
    from contrastlab.objectives.trainers.throughput import peak_memory

    cfg, session.model = plan.cfg, session.model.eval()
    per_example, before = {}, {}
    if cfg.eval.before or session.baseline:
        with session.reference() as reference:
            before = session.evaluate(reference, desc="eval reference")
        if cfg.eval.before:
            per_example["before"] = session.last_examples
    after = session.evaluate(session.model, desc="eval")
    per_example["after"] = session.last_examples
    runlog.log(0, {f"eval/{k}": v for k, v in after.items()})
    metrics = {f"before/{k}": v for k, v in before.items() if cfg.eval.before}
    metrics.update({f"after/{k}": v for k, v in after.items()})
    metrics.update(_per_example(cfg, plan.run_dir, metrics, per_example))
    metrics.update(session.measure(session.model, runlog, 0))
    metrics.update(peak_memory(plan.hardware.device))
    return {"data/num_eval": session.num_eval, "train/steps": 0, **metrics}


def _train_metrics(trainer, result, log_cb) -> dict[str, float]:
    steps = trainer.state.global_step
    return {
        "train/steps": steps,
        # the mean step loss over the whole run, a resumed one included (transformers' own `training_loss` averages
        # only the steps of the last train() call); the same number as `training_loss` for a run trained at once
        "train/loss": float(trainer._total_loss_scalar / max(steps, 0.001)),
        "train/final_loss": float(log_cb.last.get("train/loss", float("nan"))),
        "train/runtime_s": float(result.metrics.get("train_runtime", float("nan"))),
    }


def _before_after(cfg, session, trainer, runlog, run_dir, clock, keep=None):
    """Evaluate before (when asked, or when the first evaluation is the reference of the later ones), train (from
    the newest complete checkpoint of the run folder with `train.resume=auto`), evaluate after; with `keep`
    (train.keep_best), the best evaluated weights are restored and their evaluation is after/."""
    from contrastlab.objectives.trainers.resilience import Resilience
    from contrastlab.objectives.trainers.throughput import Throughput

    resume = _resume_point(run_dir / "checkpoints", runlog) if cfg.train.resume == "auto" else None
    guard, throughput = Resilience(trainer, cfg.train.on_nan, resume), Throughput(trainer, clock)
    trainer.add_callback(guard)
    trainer.add_callback(throughput)
    before = session.evaluate(trainer.model, desc="eval before") if cfg.eval.before or session.baseline else {}
    per_example = {"before": session.last_examples} if cfg.eval.before and before else {}
    if resume is not None:  # the log of the steps the checkpoint holds stays; the later ones are trained again
        step = int(resume.name.rsplit("-", 1)[1])
        runlog.keep_until(step)
        if is_main():
            print(f"Resuming from {resume} (step {step} of {trainer.args.max_steps})", flush=True)
    elif cfg.eval.before and before:
        runlog.log(0, {f"eval/{k}": v for k, v in before.items()})
    guard.install()
    try:
        result = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    finally:
        guard.uninstall()
    if guard.preempted_at is not None:
        _preempted(run_dir, guard.preempted_at, guard.stop_signal)
    cost = throughput.metrics()
    steps = trainer.state.global_step
    after = session.evaluate(trainer.model, desc="eval after") if cfg.eval.after else {}
    if after:
        runlog.log(steps, {f"eval/{k}": v for k, v in after.items()})
        per_example["after"] = session.last_examples
    kept = {}
    if keep is not None and after:
        keep.offer(steps, after, trainer.model, session.last_examples)
        if keep.step != steps:
            keep.restore(trainer.model)
            after, per_example["after"] = keep.metrics, keep.examples
        kept = keep.summary()
    metrics = {f"before/{k}": v for k, v in before.items() if cfg.eval.before}
    metrics.update({f"after/{k}": v for k, v in after.items()})
    metrics.update(_per_example(cfg, run_dir, metrics, per_example))
    metrics.update(kept)
    if cfg.train.on_nan == "skip_batch":
        metrics["train/skipped_batches"] = guard.skipped_batches
    metrics.update(cost)
    return metrics, result


def _resume_point(checkpoints: Path, runlog) -> Path | None:
    """The newest complete checkpoint that verifies (rank 0 checks them and moves damaged ones aside, with a warning
    each; then every process reads the same newest one), or None; when every checkpoint was damaged, the run starts
    over from step 0 and says so (the log of the lost steps is dropped)."""
    from contrastlab.distributed import barrier
    from contrastlab.objectives.trainers.resilience import latest_checkpoint, usable_checkpoint

    if is_main():
        found, warnings = usable_checkpoint(checkpoints)
        for line in warnings:
            print(f"contrastlab: warning: {line}", file=sys.stderr, flush=True)
        if warnings and found is None:
            print("contrastlab: warning: no checkpoint of this run verifies; training starts over from step 0 "
                  "(train.resume=auto)", file=sys.stderr, flush=True)  # fmt: skip
            runlog.keep_until(-1)
    barrier()
    return latest_checkpoint(checkpoints)


def _per_example(cfg, run_dir: Path, metrics: dict, per_example: dict) -> dict[str, float]:
    """examples/<stage>.jsonl (rank 0) and the intervals of the stage's metrics (`tracking.examples`)."""
    from contrastlab.tracking.examples import intervals, write_examples

    out: dict[str, float] = {}
    for stage, examples in per_example.items():
        if not examples:
            continue
        if is_main():
            write_examples(run_dir, stage, examples)
        out.update(intervals(stage, metrics, examples, cfg.eval.bootstrap, cfg.train.seed))
    return out


def _preempted(run_dir: Path, step: int, signum: int | None) -> None:
    """SIGTERM (or a first Ctrl-C) stopped training after `step` with a checkpoint saved: say how to resume and exit
    with 143 (130 for Ctrl-C), as a shell reports a process ended by that signal (no error.json: the run is not
    failed, only unfinished)."""
    import signal

    interrupted = signum == signal.SIGINT
    if is_main():
        print(f"contrastlab: stopped by {'Ctrl-C' if interrupted else 'SIGTERM'} after step {step}; checkpoint saved "
              f"in {run_dir / 'checkpoints'}; run the same command with hydra.run.dir={run_dir} to resume",
              file=sys.stderr, flush=True)  # fmt: skip
    raise SystemExit(INTERRUPTED_EXIT if interrupted else PREEMPTED_EXIT)
