"""Our PreferenceTrainer against TRL's DPOTrainer: with the sigmoid DPO loss it must give TRL's losses step by
step on the same model, data and seed, with a frozen reference copy and with a LoRA adapter."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import compose

from contrastlab.data.sources import load_records
from contrastlab.models.loading import load_model, load_tokenizer, lora_config

STEPS = 6


def _common(tmp_path, name):
    return dict(output_dir=str(tmp_path / name), per_device_train_batch_size=4, learning_rate=1e-3, max_steps=STEPS,
                logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, seed=0, data_seed=0,
                lr_scheduler_type="linear", bf16=False, gradient_checkpointing=True, disable_tqdm=True)  # fmt: skip


def _setup(lora: bool):
    cfg = compose(["model=tiny", "data.max_train=40", "data.max_eval=4"] + (["model.lora.enabled=true"] if lora else []))
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = load_model(cfg.model, cfg.hardware, tokenizer)
    train, _ = load_records(cfg.data)
    return cfg, tokenizer, model, train


def _trl_losses(cfg, tokenizer, model, train, tmp_path, lora: bool):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from contrastlab.data.records import to_rows

    args = DPOConfig(**_common(tmp_path, "trl"), beta=0.1, loss_type=["sigmoid"], max_length=64)
    trainer = DPOTrainer(model=model, ref_model=None if lora else copy.deepcopy(model).eval().requires_grad_(False),
                         args=args, train_dataset=Dataset.from_list(to_rows(train, conversational=True)),
                         processing_class=tokenizer, peft_config=lora_config(cfg.model, "CAUSAL_LM"))  # fmt: skip
    trainer.train()
    return [log["loss"] for log in trainer.state.log_history if "loss" in log]


def _our_losses(cfg, tokenizer, model, train, tmp_path, lora: bool):
    import transformers
    from datasets import Dataset

    from contrastlab.objectives.losses.pairwise import dpo_sigmoid
    from contrastlab.objectives.trainers.preference import PreferenceTrainer, SequenceLoss, pair_metrics
    from contrastlab.data.encoding import Encoding
    from contrastlab.objectives.trainers.sequences import SequenceCollator, sequence_rows

    def fn(batch):
        ratios = batch.logratios
        return dpo_sigmoid(ratios[:, 0], ratios[:, 1], 0.1).mean(), pair_metrics(batch, 0.1)

    ref = None
    if lora:
        from peft import get_peft_model

        transformers.set_seed(0)  # TRL seeds before drawing the adapter's weights
        model = get_peft_model(model, lora_config(cfg.model, "CAUSAL_LM"))
    else:
        ref = copy.deepcopy(model).eval().requires_grad_(False)
    rows = sequence_rows(train, Encoding(tokenizer, chat=True), 64)
    trainer = PreferenceTrainer(
        model=model, args=transformers.TrainingArguments(**_common(tmp_path, "ours"), remove_unused_columns=False),
        train_dataset=Dataset.from_list(rows), data_collator=SequenceCollator(tokenizer.pad_token_id, 64),
        loss=SequenceLoss(fn), uses_reference=True, ref_model=ref,
    )  # fmt: skip
    trainer.train()
    return [log["loss"] for log in trainer.state.log_history if "loss" in log]


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True], ids=["frozen-copy", "lora"])
def test_sigmoid_dpo_reproduces_trl_step_by_step(tmp_path, lora):
    cfg, tokenizer, model, train = _setup(lora)
    theirs = _trl_losses(cfg, tokenizer, copy.deepcopy(model), train, tmp_path, lora)
    ours = _our_losses(cfg, tokenizer, copy.deepcopy(model), train, tmp_path, lora)
    assert len(theirs) == len(ours) == STEPS
    assert abs(theirs[0] - 0.6931472) < 1e-5  # step 1: policy = reference, loss = ln 2
    assert len(set(round(x, 4) for x in theirs)) > 2  # the losses move, so the comparison means something
    assert ours == pytest.approx(theirs, abs=1e-5)


@pytest.mark.slow
def test_precomputed_reference_gives_the_frozen_copy_losses(tmp_path):
    """`objective.precompute_ref`: the reference log-probs computed once before training (by the initial policy,
    no copy kept) give the same losses as a frozen copy run alongside."""
    import transformers
    from datasets import Dataset

    from contrastlab.objectives.losses.pairwise import dpo_sigmoid
    from contrastlab.objectives.trainers.preference import PreferenceTrainer, SequenceLoss
    from contrastlab.data.encoding import Encoding
    from contrastlab.objectives.trainers.sequences import SequenceCollator, sequence_rows

    cfg, tokenizer, model, train = _setup(False)
    rows = sequence_rows(train, Encoding(tokenizer, chat=True), 64)

    def fn(batch):
        return dpo_sigmoid(batch.logratios[:, 0], batch.logratios[:, 1], 0.1).mean(), {}

    losses = {}
    for name in ("copy", "precomputed"):
        policy = copy.deepcopy(model)
        trainer = PreferenceTrainer(
            model=policy, args=transformers.TrainingArguments(**_common(tmp_path, name), remove_unused_columns=False),
            train_dataset=Dataset.from_list(rows), data_collator=SequenceCollator(tokenizer.pad_token_id, 64),
            loss=SequenceLoss(fn), uses_reference=True,
            ref_model=copy.deepcopy(model).eval().requires_grad_(False) if name == "copy" else None,
        )  # fmt: skip
        if name == "precomputed":
            trainer.train_dataset = trainer.precompute_reference(trainer.train_dataset, batch_size=8)
            assert len(trainer.train_dataset[0]["ref_logps"]) == 2
        trainer.train()
        losses[name] = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses["copy"]) == STEPS
    assert losses["precomputed"] == pytest.approx(losses["copy"], abs=1e-5)
