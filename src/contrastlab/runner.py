"""One job, start to end: validate -> data -> model -> objective -> train -> evaluate -> run folder.

Called by `run.py` after Hydra has composed the config and made the run folder. Heavy imports (torch,
transformers, TRL) happen here and not before, so `--help` and `--cfg job` stay fast.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path

from omegaconf import OmegaConf

from contrastlab.config.validate import validate
from contrastlab.data.lengths import check_room, count_truncated
from contrastlab.data.records import adapt, can_adapt, to_rows
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.data.sources import load_records
from contrastlab.distributed import in_worker, is_main
from contrastlab.errors import UserError
from contrastlab.generation_eval import ensure_reward_model, generation_eval
from contrastlab.launch import launch, needs_launch, resolve_hardware
from contrastlab.report import print_summary
from contrastlab.tracking.run_folder import RunLog, write_json_atomic
from contrastlab.tracking.wandb_run import open_wandb


def _hydra_context() -> tuple[Path, str, str | None]:
    """(run folder, run name, sweep group) from Hydra's runtime config."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        return run_dir, f"{Path(hc.sweep.dir).name}/{run_dir.name}", Path(hc.sweep.dir).name
    return run_dir, f"{run_dir.parent.name}/{run_dir.name}", None


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


def run(cfg, run_dir: Path | None = None, run_name: str | None = None, sweep_group: str | None = None) -> float:
    """Train and evaluate one configuration; return the objective family's main held-out metric after training
    (preference accuracy, or Spearman correlation for embeddings).

    `run_dir` defaults to Hydra's run folder (pass one to run a composed config outside `run.py`). With several
    processes (`hardware.num_processes` > 1, FSDP, DeepSpeed) this job starts them (`launch`) and each runs this
    function again as a worker; only rank 0 writes the run folder and logs to W&B.
    """
    spec = validate(cfg)
    if run_dir is None:
        run_dir, run_name, sweep_group = _hydra_context()
    else:
        run_dir, run_name = Path(run_dir), run_name or Path(run_dir).name
        if not (run_dir / ".hydra" / "config.yaml").exists():  # outside run.py: record the config as Hydra would
            (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
            OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml", resolve=True)
    started = time.time()

    _quiet()
    import torch

    resolve_hardware(cfg.hardware)
    hw = cfg.hardware
    if hw.device == "cuda" and not torch.cuda.is_available():
        raise UserError(f"hardware={hw.name} runs on a CUDA GPU but none is visible: use hardware=cpu")
    if not in_worker():
        ensure_reward_model(cfg)
        if needs_launch(hw):
            return run_value(cfg, spec, launch(cfg, run_dir, run_name, sweep_group))
    if hw.threads:
        torch.set_num_threads(hw.threads)
    main = is_main()

    data_counts: dict[str, float] = {}  # data/skipped, data/skipped/<reason>; data/truncated once tokenized
    train_records, eval_records = load_records(cfg.data, data_counts)
    train_records = adapt(train_records, spec.record, data_name=cfg.data.name)
    problem = spec.check_records(cfg.objective, train_records) if spec.check_records else None
    if problem:
        raise UserError(problem)
    if cfg.train.curriculum:
        train_records = type(train_records[0]).by_difficulty(train_records, cfg.data.name) if train_records else []
    config = OmegaConf.to_container(cfg, resolve=True)
    wandb_run = open_wandb(cfg.logger, config, run_dir, run_name, sweep_group) if main else None
    with RunLog(run_dir, wandb_run, write=main) as runlog:
        if spec.family == "embedding":
            metrics, described = _train_embedding(cfg, spec, train_records, eval_records, runlog, run_dir, data_counts)
        else:
            metrics, described = _train_policy(cfg, spec, train_records, eval_records, runlog, run_dir, data_counts)
        metrics.update(data_counts)
        metrics["time/total_s"] = time.time() - started
        if hw.num_processes > 1:
            metrics["hardware/num_processes"] = hw.num_processes
        if main:
            write_json_atomic(run_dir / "metrics.json", metrics)
        runlog.summary(metrics)

    if main:
        print_summary(cfg, spec, metrics, run_dir, described)
    return run_value(cfg, spec, metrics)


def run_value(cfg, spec, metrics: dict[str, float]) -> float:
    """The number a run returns to Hydra's sweeper (what Optuna optimises): `metrics[eval.metric]`, by default the
    family's main held-out metric after training. NaN when the run did not measure it."""
    name = cfg.eval.metric or f"after/{PRIMARY.get(spec.family, 'pref_accuracy')}"
    value = metrics.get(name)
    if value is None:
        print(f"eval.metric={name} was not measured by this run (it measured: {', '.join(sorted(metrics))})")
        return float("nan")
    return float(value)


PRIMARY = {"policy": "pref_accuracy", "reward": "pref_accuracy", "embedding": "spearman",
           "unlearning": "forget_logp_drop"}


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


def _before_after(cfg, evaluate, model_fn, trainer, runlog, run_dir, force_before: bool = False):
    """Evaluate before (when asked, or when the first evaluation is needed as reference), train (from the newest
    complete checkpoint of the run folder with `train.resume=auto`), evaluate after."""
    from contrastlab.objectives.trainers.resilience import Resilience, latest_checkpoint
    from contrastlab.objectives.trainers.throughput import Throughput

    resume = latest_checkpoint(run_dir / "checkpoints") if cfg.train.resume == "auto" else None
    guard, throughput = Resilience(trainer, cfg.train.on_nan, resume), Throughput(trainer)
    trainer.add_callback(guard)
    trainer.add_callback(throughput)
    before = evaluate(model_fn(), desc="eval before") if cfg.eval.before or force_before else {}
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
        _preempted(run_dir, guard.preempted_at)
    cost = throughput.metrics()
    steps = trainer.state.global_step
    after = evaluate(model_fn(), desc="eval after") if cfg.eval.after else {}
    if after:
        runlog.log(steps, {f"eval/{k}": v for k, v in after.items()})
    metrics = {f"before/{k}": v for k, v in before.items() if cfg.eval.before}
    metrics.update({f"after/{k}": v for k, v in after.items()})
    if cfg.train.on_nan == "skip_batch":
        metrics["train/skipped_batches"] = guard.skipped_batches
    metrics.update(cost)
    return metrics, result


PREEMPTED_EXIT = 143  # 128 + SIGTERM, what a shell reports for a process the signal ended


def _preempted(run_dir: Path, step: int) -> None:
    """SIGTERM stopped training after `step` with a checkpoint saved: say how to resume and exit (no error.json:
    the run is not failed, only unfinished)."""
    import sys

    if is_main():
        print(f"contrastlab: stopped by SIGTERM after step {step}; checkpoint saved in {run_dir / 'checkpoints'}; "
              f"run the same command with hydra.run.dir={run_dir} to resume", file=sys.stderr, flush=True)
    raise SystemExit(PREEMPTED_EXIT)


def _policy_evaluator(cfg, spec, train_records, eval_records, tokenizer, chat):
    """The held-out evaluation of a language model (or reward model), a line saying what it measures, and how
    many examples it measures."""
    from contrastlab.data.encoding import Encoding
    from contrastlab.eval.preference import PairEvaluator, encode_pairs
    from contrastlab.eval.unlearning import UnlearningEvaluator, encode_examples

    length, batch, pad = cfg.train.max_length, cfg.eval.batch_size, tokenizer.pad_token_id
    encoding = Encoding(tokenizer, chat)
    if spec.family == "unlearning":  # the forget set; the retain examples trained on (as many as held out); held out
        held_out = [r for r in eval_records if not r.forgotten]
        sets = {"forget": [r for r in eval_records if r.forgotten],
                "retain": [r for r in train_records if not r.forgotten][: max(len(held_out), 1)],
                "heldout": held_out}  # fmt: skip
        encoded = {name: encode_examples(encoding, records, length) for name, records in sets.items()}
        counts = ", ".join(f"{len(v)} {k}" for k, v in encoded.items())
        num_eval = sum(len(v) for v in encoded.values())
        return UnlearningEvaluator(encoded, batch, pad), f"{counts} examples, against the initial policy", num_eval
    import torch

    kind = type(eval_records[0]) if eval_records else PreferencePair
    pairs = adapt(eval_records, PreferencePair, data_name=cfg.data.name) if can_adapt(kind, PreferencePair) else []
    attributes = {name: torch.tensor(margins) for name, margins in kind.attribute_margins(eval_records).items()}
    encoded = encode_pairs(encoding, pairs, length)
    beta = float(getattr(cfg.objective, "beta", 0.1))
    evaluator = PairEvaluator(spec.family, encoded, beta, batch, pad, attributes)
    return evaluator, f"{len(encoded)} held-out pairs, against the initial policy as reference", len(encoded)


def _train_policy(cfg, spec, train_records, eval_records, runlog, run_dir, data_counts):
    """A language model (or a scalar reward model) trained by TRL's trainer for the objective, or by ours."""
    import transformers

    from contrastlab.models.loading import load_model, load_tokenizer
    from contrastlab.objectives.trainers import build as builders
    from contrastlab.objectives.trainers.callbacks import PeriodicEvalCallback, RunLogCallback, quiet_progress

    hw, train = cfg.hardware, cfg.train
    tokenizer = load_tokenizer(cfg.model)
    chat = bool(cfg.model.chat_template and tokenizer.chat_template)
    from contrastlab.data.encoding import Encoding

    check_room(Encoding(tokenizer, chat), train_records, train.max_length, cfg.data.name)
    data_counts["data/truncated"] = count_truncated(Encoding(tokenizer, chat), train_records, train.max_length)
    evaluate, described, num_eval = _policy_evaluator(cfg, spec, train_records, eval_records, tokenizer, chat)

    transformers.set_seed(train.seed)
    head = "score" if spec.family == "reward" else "causal_lm"
    model = load_model(cfg.model, hw, tokenizer, head=head)
    model.to("cuda" if hw.device == "cuda" else "cpu")
    frozen_ref = None  # the reference of the generation evaluation, when no LoRA adapter can be switched off
    if cfg.eval.generate and not cfg.model.lora.enabled:
        from contrastlab.models.loading import frozen_copy

        frozen_ref = frozen_copy(model)

    log_cb = RunLogCallback(runlog)
    callbacks = [log_cb, PeriodicEvalCallback(evaluate, train.eval_every, runlog)]
    build = builders.trl_trainer if spec.trl_trainer else builders.our_trainer
    trainer, num_train = build(cfg, spec, train_records, model, tokenizer, chat, callbacks, run_dir)
    quiet_progress(trainer)

    needs_reference = cfg.eval.after and spec.family != "reward"  # the initial policy is the reference
    metrics, result = _before_after(cfg, evaluate, lambda: trainer.model, trainer, runlog, run_dir,
                                   needs_reference)
    if cfg.eval.generate:
        model = trainer.accelerator.unwrap_model(trainer.model)
        generated, about = generation_eval(cfg, model, tokenizer, chat, eval_records, frozen_ref, runlog, run_dir)
        runlog.log(trainer.state.global_step, {f"eval/{k.split('/', 1)[1]}": v for k, v in generated.items()
                                               if k.startswith("after/")})  # fmt: skip
        metrics.update(generated)
        described = f"{described}; {about}"
    if cfg.save_model:
        trainer.save_model(str(run_dir / "model"))  # every process (FSDP and ZeRO-3 gather the weights); rank 0 writes
        if trainer.is_world_process_zero():
            tokenizer.save_pretrained(str(run_dir / "model"))
    metrics = {"data/num_train": num_train, "data/num_eval": num_eval, **metrics,
               **_train_metrics(trainer, result, log_cb)}  # fmt: skip
    metrics.update(getattr(trainer, "ref_cache_info", {}))  # ref_cache/hit, ref_cache/seconds: objective.precompute_ref
    return metrics, described


def _train_embedding(cfg, spec, train_records, eval_records, runlog, run_dir, data_counts):
    """Our embedding trainer on a sentence encoder; evaluated on a similarity benchmark and alignment/uniformity."""
    import transformers
    from datasets import Dataset

    from contrastlab.data.benchmarks import load_benchmark
    from contrastlab.eval.embedding import EmbeddingEvaluator
    from contrastlab.models.embedders import load_embedder, save_embedder
    from contrastlab.objectives.trainers.callbacks import PeriodicEvalCallback, RunLogCallback, quiet_progress
    from contrastlab.objectives.trainers.embedding import ContrastiveModel, EmbeddingTrainer, TextCollator
    from contrastlab.objectives.trainers.trl_glue import shared_args

    hw, train = cfg.hardware, cfg.train
    rows = to_rows(train_records, conversational=False)
    held_out = adapt(eval_records, SentencePair, data_name=cfg.data.name) if eval_records else []
    benchmark = load_benchmark(cfg.data)

    transformers.set_seed(train.seed)
    embedder = load_embedder(cfg.model, hw)
    from contrastlab.data.encoding import Encoding

    data_counts["data/truncated"] = count_truncated(Encoding(embedder.tokenizer, False), train_records,
                                                    train.max_length)
    embedder.to("cuda" if hw.device == "cuda" else "cpu")
    max_length = cfg.eval.max_length or embedder.max_length
    evaluate = EmbeddingEvaluator(benchmark, held_out, cfg.data.positive_threshold, cfg.eval.batch_size, max_length)

    args = {k: v for k, v in shared_args(train, hw, run_dir / "checkpoints", len(rows)).items() if k != "max_length"}
    log_cb = RunLogCallback(runlog)
    trainer = EmbeddingTrainer(
        model=ContrastiveModel(embedder, spec.loss_head(cfg.objective)),
        args=transformers.TrainingArguments(**args, remove_unused_columns=False),
        train_dataset=Dataset.from_list(rows),
        data_collator=TextCollator(embedder, train.max_length),
        callbacks=[log_cb, PeriodicEvalCallback(lambda model, desc="eval": evaluate(model.embedder, desc),
                                                train.eval_every, runlog)],  # fmt: skip
        mini_batch_size=cfg.objective.mini_batch_size,
    )
    quiet_progress(trainer)

    metrics, result = _before_after(cfg, evaluate, lambda: embedder, trainer, runlog, run_dir)
    if cfg.save_model and is_main():
        save_embedder(embedder, run_dir / "model")
    scale = trainer.model.head.scale()  # None for a loss without a temperature
    metrics = {"data/num_train": len(rows), "data/num_benchmark": len(benchmark), "data/num_eval": len(held_out),
               **metrics, **_train_metrics(trainer, result, log_cb)}  # fmt: skip
    if scale is not None:
        metrics["train/scale"] = float(scale)
    if benchmark:
        described = f"benchmark {cfg.data.benchmark}: {len(benchmark)} scored pairs, {len(evaluate.texts)} texts"
    else:
        described = f"{len(held_out)} held-out pairs"
    return metrics, described
