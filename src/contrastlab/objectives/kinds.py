"""The three kinds of objective, each building its trainer from one `TrainerContext`:

- `TrlObjective`: TRL's trainer (`trl_trainer`: dpo, kto, orpo, cpo, reward) with the objective's fields
  (`trl_args`) on top of everything the objectives share (`train.*`, `hardware.*`, `trl_glue.shared_args`);
- `SequenceObjective`: a sequence loss (`loss(config, records) -> SequenceLoss`) on our `PreferenceTrainer`, over
  rows of K tokenized sequences per example (`trainers.sequences`);
- `EmbeddingObjective`: a loss over embeddings (`loss_head(config) -> LossHead`) on our `EmbeddingTrainer`.

What a builder does differently for an objective comes from the objective's `Needs`, never from its name or from
probing its config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from contrastlab.errors import UserError
from contrastlab.objectives.base import ObjectiveSpec


@dataclass(frozen=True, kw_only=True)
class TrainerContext:
    """Everything a builder reads: the run's config and resolved hardware, its training records (of the objective's
    record type), the model the family loaded and its tokenizer, and the trainer callbacks of the job."""

    cfg: Any  # the run's config (read-only)
    hardware: Any  # the resolved hardware (app.plan.Hardware: device, precision, processes, engine options)
    run_dir: Path
    records: list
    model: Any  # a language model, a scalar scorer, or a sentence embedder (the family's head)
    tokenizer: Any
    chat: bool  # prompts go through the tokenizer's chat template
    lora_task: str | None  # PEFT task type of the family's head (CAUSAL_LM, SEQ_CLS, ...)
    callbacks: list
    runlog: Any = None  # tracking.run_folder.RunLog: the run's log (tables of training samples)

    @property
    def checkpoints(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def hidden_size(self) -> int | None:
        """The model's hidden size (DeepSpeed's bucket sizes), where its config has one."""
        return getattr(getattr(self.model, "config", None), "hidden_size", None)


@dataclass(frozen=True, kw_only=True)
class TrlObjective(ObjectiveSpec):
    """Run by TRL's trainer `trl_trainer`, configured with `trl_args(objective config)`."""

    trl_trainer: str  # a key of trainers.trl_glue.TRL_TRAINERS
    trl_args: Callable[[Any], dict]  # objective config -> that trainer's config fields

    def extra(self, ctx: TrainerContext) -> tuple[dict, dict]:
        """(more config fields, more trainer arguments) from the run (on-policy objectives: the reward)."""
        return {}, {}

    def built(self, trainer, ctx: TrainerContext) -> None:
        """After the trainer is built (on-policy objectives: the callback that keeps training samples)."""

    def build_trainer(self, ctx: TrainerContext):
        from datasets import Dataset

        from contrastlab.data.encoding import with_system
        from contrastlab.data.records import to_rows
        from contrastlab.models.loading import frozen_copy, lora_config
        from contrastlab.objectives.trainers.ref_cache import resolve_cache_dir
        from contrastlab.objectives.trainers.throughput import TOKEN_COUNTING
        from contrastlab.objectives.trainers.trl_glue import TRL_TRAINERS, build_trl_trainer, shared_args

        cfg, needs = ctx.cfg, self.needs(ctx.cfg.objective)
        rows = to_rows(ctx.records, conversational=ctx.chat)
        if ctx.chat:  # the one encoding's system message (model.system_prompt), as TRL's template will read it
            rows = [{**row, "prompt": with_system(row["prompt"], cfg.model.system_prompt)} if isinstance(
                row.get("prompt"), list) else row for row in rows]
        if not needs.scores:  # a column TRL would read (the reward trainer's margin) only when the objective asks
            rows = [{k: v for k, v in row.items() if k != "margin"} for row in rows]
        lora = cfg.model.lora.enabled
        copy = needs.reference and not lora and not needs.precompute_reference
        cached = needs.precompute_reference and cfg.train.ref_cache
        more_args, more_kwargs = self.extra(ctx)
        trainer = build_trl_trainer(
            self.trl_trainer,
            {**self.trl_args(cfg.objective), **more_args},
            {**shared_args(cfg.train, ctx.hardware, ctx.checkpoints, len(rows), ctx.hidden_size),
             **(TOKEN_COUNTING if TRL_TRAINERS[self.trl_trainer].counts_tokens else {})},  # fmt: skip
            ctx.model,
            ctx.tokenizer,
            Dataset.from_list(rows),
            ctx.callbacks,
            peft_config=lora_config(cfg.model, ctx.lora_task),
            ref_model=frozen_copy(ctx.model) if copy else None,
            ref_cache_dir=resolve_cache_dir(cfg.cache_dir) if cached else None,
            **more_kwargs,
        )
        self.built(trainer, ctx)
        return trainer, len(rows)  # trainer.ref_cache_info: the reference log-prob cache's metrics, when it was used


@dataclass(frozen=True, kw_only=True)
class SequenceObjective(ObjectiveSpec):
    """A loss over the sequence log-probs of K sequences per example, on our PreferenceTrainer."""

    loss: Callable[[Any, list], Any]  # (objective config, training records) -> trainers.preference.SequenceLoss

    def build_trainer(self, ctx: TrainerContext):
        import transformers
        from datasets import Dataset

        from contrastlab.data.encoding import Encoding
        from contrastlab.models.loading import frozen_copy, lora_config
        from contrastlab.objectives.trainers.preference import PreferenceTrainer
        from contrastlab.objectives.trainers.ref_cache import precompute_preference_reference, resolve_cache_dir
        from contrastlab.objectives.trainers.rows_read import precompute_rows, rows_read
        from contrastlab.objectives.trainers.sequences import SequenceCollator, sequence_rows
        from contrastlab.objectives.trainers.throughput import TOKEN_COUNTING
        from contrastlab.objectives.trainers.trl_glue import shared_args

        cfg, train, needs = ctx.cfg, ctx.cfg.train, self.needs(ctx.cfg.objective)
        rows = sequence_rows(ctx.records, Encoding(ctx.tokenizer, ctx.chat, cfg.model.system_prompt), train.max_length, train.seed, needs.retain)
        if not rows:
            raise UserError(f"no training example of data={cfg.data.name} has room for a completion within "
                            f"train.max_length={train.max_length}; raise train.max_length")
        model, peft = ctx.model, lora_config(cfg.model, ctx.lora_task)
        if peft is not None:
            from peft import get_peft_model

            transformers.set_seed(train.seed)  # the adapter's initial weights are drawn here (as TRL seeds them)
            model = get_peft_model(model, peft)
        args = {**shared_args(train, ctx.hardware, ctx.checkpoints, len(rows), ctx.hidden_size), **TOKEN_COUNTING}
        args.pop("max_length")
        args.setdefault("gradient_checkpointing", True)  # TRL's default for language models
        copy = needs.reference and peft is None and not needs.precompute_reference
        trainer = PreferenceTrainer(
            model=model,
            args=transformers.TrainingArguments(**args, remove_unused_columns=False),
            train_dataset=Dataset.from_list(rows),
            data_collator=SequenceCollator(ctx.tokenizer.pad_token_id, train.max_length),
            callbacks=ctx.callbacks,
            loss=self.loss(cfg.objective, ctx.records),
            uses_reference=needs.reference,
            topk=needs.topk,
            ref_model=frozen_copy(model) if copy else None,
        )
        if needs.precompute_reference:  # the rows the run reads; with train.ref_cache, sets trainer.ref_cache_info
            root = resolve_cache_dir(cfg.cache_dir) if train.ref_cache else None

            def compute(part):
                if root is None:
                    return trainer.precompute_reference(part, cfg.eval.batch_size)
                return precompute_preference_reference(trainer, part, cfg.eval.batch_size, root)

            trainer.train_dataset = precompute_rows(trainer.train_dataset, rows_read(trainer), compute,
                                                    lambda row: [float("nan")] * len(row["ids"]))  # fmt: skip
        return trainer, len(rows)


@dataclass(frozen=True, kw_only=True)
class EmbeddingObjective(ObjectiveSpec):
    """A loss over the embeddings of each text column, on our EmbeddingTrainer (the model is an `Embedder`)."""

    loss_head: Callable[[Any], Any]  # objective config -> trainers.embedding.LossHead
    uses_beta: bool = False

    def build_trainer(self, ctx: TrainerContext):
        import transformers
        from datasets import Dataset

        from contrastlab.data.records import to_rows
        from contrastlab.objectives.trainers.embedding import ContrastiveModel, EmbeddingTrainer, TextCollator
        from contrastlab.objectives.trainers.trl_glue import shared_args

        cfg, train = ctx.cfg, ctx.cfg.train
        rows = to_rows(ctx.records, conversational=False)
        args = {k: v for k, v in shared_args(train, ctx.hardware, ctx.checkpoints, len(rows)).items()
                if k != "max_length"}  # fmt: skip
        trainer = EmbeddingTrainer(
            model=ContrastiveModel(ctx.model, self.loss_head(cfg.objective)),
            args=transformers.TrainingArguments(**args, remove_unused_columns=False),
            train_dataset=Dataset.from_list(rows),
            data_collator=TextCollator(ctx.model, train.max_length),
            callbacks=ctx.callbacks,
            mini_batch_size=cfg.objective.mini_batch_size,
        )
        return trainer, len(rows)
