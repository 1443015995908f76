"""The trainer of a language-model objective: TRL's where TRL has the objective, else our PreferenceTrainer; each
returns (trainer, number of training rows) for the runner (`runner._train_policy`)."""

from __future__ import annotations

from contrastlab.data.records import to_rows
from contrastlab.errors import UserError


def trl_trainer(cfg, spec, train_records, model, tokenizer, chat, callbacks, run_dir):
    """TRL's trainer for the objective, on rows in TRL's dataset format."""
    from datasets import Dataset

    from contrastlab.models.loading import frozen_copy, lora_config
    from contrastlab.objectives.trainers.ref_cache import resolve_cache_dir
    from contrastlab.objectives.trainers.throughput import TOKEN_COUNTING
    from contrastlab.objectives.trainers.trl_glue import build_trl_trainer, shared_args

    rows = to_rows(train_records, conversational=chat)
    if not getattr(cfg.objective, "margin", False):
        rows = [{k: v for k, v in row.items() if k != "margin"} for row in rows]
    uses_copy = spec.uses_reference and not cfg.model.lora.enabled and not cfg.objective.precompute_ref
    cached = spec.uses_reference and getattr(cfg.objective, "precompute_ref", False) and cfg.train.ref_cache
    trainer = build_trl_trainer(
        spec.trl_trainer,
        spec.trl_args(cfg.objective),
        {**shared_args(cfg.train, cfg.hardware, run_dir / "checkpoints", len(rows)),
         **(TOKEN_COUNTING if spec.trl_trainer in ("dpo", "kto", "reward") else {})},  # batches with input_ids
        model,
        tokenizer,
        Dataset.from_list(rows),
        callbacks,
        peft_config=lora_config(cfg.model, "SEQ_CLS" if spec.family == "reward" else "CAUSAL_LM"),
        ref_model=frozen_copy(model) if uses_copy else None,
        ref_cache_dir=resolve_cache_dir(cfg.cache_dir) if cached else None,
    )
    return trainer, len(rows)  # trainer.ref_cache_info: the reference log-prob cache's metrics, when it was used


def our_trainer(cfg, spec, train_records, model, tokenizer, chat, callbacks, run_dir):
    """Our PreferenceTrainer with the objective's sequence loss, on rows of K tokenized sequences."""
    import transformers
    from datasets import Dataset

    from contrastlab.models.loading import frozen_copy, lora_config
    from contrastlab.objectives.trainers.preference import PreferenceTrainer
    from contrastlab.objectives.trainers.ref_cache import precompute_preference_reference, resolve_cache_dir
    from contrastlab.data.encoding import Encoding
    from contrastlab.objectives.trainers.sequences import SequenceCollator, sequence_rows
    from contrastlab.objectives.trainers.throughput import TOKEN_COUNTING
    from contrastlab.objectives.trainers.trl_glue import shared_args

    train = cfg.train
    retain = getattr(cfg.objective, "retain_weight", 1.0) > 0
    rows = sequence_rows(train_records, Encoding(tokenizer, chat), train.max_length, train.seed, retain)
    if not rows:
        raise UserError(f"no training example of data={cfg.data.name} has room for a completion within "
                        f"train.max_length={train.max_length}; raise train.max_length")
    precompute = spec.uses_reference and getattr(cfg.objective, "precompute_ref", False)
    peft = lora_config(cfg.model, "CAUSAL_LM")
    if peft is not None:
        from peft import get_peft_model

        transformers.set_seed(train.seed)  # the adapter's initial weights are drawn here (as TRL seeds them)
        model = get_peft_model(model, peft)
    args = {**shared_args(train, cfg.hardware, run_dir / "checkpoints", len(rows)), **TOKEN_COUNTING}
    args.pop("max_length")
    args.setdefault("gradient_checkpointing", True)  # TRL's default for language models
    trainer = PreferenceTrainer(
        model=model,
        args=transformers.TrainingArguments(**args, remove_unused_columns=False),
        train_dataset=Dataset.from_list(rows),
        data_collator=SequenceCollator(tokenizer.pad_token_id, train.max_length),
        callbacks=callbacks,
        loss=spec.sequence_loss(cfg.objective, train_records),
        uses_reference=spec.uses_reference,
        ref_model=frozen_copy(model) if spec.uses_reference and peft is None and not precompute else None,
    )
    if precompute and train.ref_cache:  # sets trainer.ref_cache_info, the cache's metrics
        root = resolve_cache_dir(cfg.cache_dir)
        trainer.train_dataset = precompute_preference_reference(trainer, trainer.train_dataset, cfg.eval.batch_size,
                                                                root)  # fmt: skip
    elif precompute:
        trainer.train_dataset = trainer.precompute_reference(trainer.train_dataset, cfg.eval.batch_size)
    return trainer, len(rows)
