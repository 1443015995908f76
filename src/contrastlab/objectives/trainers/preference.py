"""Our preference trainer, on transformers' `Trainer`, for the objectives TRL does not have.

Each step it computes the sequence log-probs of every sequence of the batch (K per example: chosen and
rejected, a ranked list, a forget and a retain example; see `sequences`) under the policy, and under the
reference when the objective has one, in ONE concatenated forward pass each, exactly as TRL's DPOTrainer
does: TRL's fused LM head (`trl.trainer.utils.add_fused_lm_head`) gives per-token log-probs without
materialising the (K*B, T, V) logits, summed over the completion tokens. With LoRA the reference is the
policy with its adapter switched off; otherwise a frozen copy, or log-probs computed once up front
(`objective.precompute_ref`). The objective's loss (a `SequenceLoss`) maps a `SequenceBatch` to the loss and
its metrics; the trainer never asks which objective it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from transformers import Trainer

from contrastlab.objectives.trainers.rows_read import check_read


@dataclass
class SequenceBatch:
    """What a sequence loss sees. B examples of K sequences; T-1 next-token positions."""

    logps: torch.Tensor  # (B, K) policy log pi(y|x), summed over completion tokens
    ref_logps: Optional[torch.Tensor]  # (B, K) reference log-probs; None for reference-free objectives
    token_logps: torch.Tensor  # (B, K, T-1) policy per-token log-probs, 0 outside completions
    mask: torch.Tensor  # (B, K, T-1) 1 on completion tokens
    present: torch.Tensor  # (B, K) bool: False for the padding of lists shorter than K
    extras: dict = field(default_factory=dict)  # name -> (B, K, ...): the record type's batch extras (scores, ...)
    labels: Optional[torch.Tensor] = None  # (B, K, T-1) next tokens (only when the loss asks for top-k)
    topk_logps: Optional[torch.Tensor] = None  # (B, K, T-1, k) the policy's top-k log-probs per position
    topk_ids: Optional[torch.Tensor] = None  # (B, K, T-1, k) their token ids

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(-1)  # (B, K)

    @property
    def logratios(self) -> torch.Tensor:
        return self.logps - self.ref_logps  # (B, K)


class SequenceLoss:
    """An objective's loss over a `SequenceBatch`: `__call__(batch) -> (scalar loss, {metric: float})`.

    `state`: what the loss carries from step to step (BCO's running reward mean), an object with `state_dict()` and
    `load_state_dict(dict)`; the trainer saves it with every checkpoint (`loss_state.json`) and restores it on
    resume, so a resumed run continues it exactly."""

    def __init__(self, fn: Callable, state=None):
        self.fn, self.state = fn, state

    def __call__(self, batch: SequenceBatch):
        return self.fn(batch)


def _per_token(model, inputs: dict, topk: int = 0):
    """Per-token log-probs (N, T-1) of each next token, and optionally the top-k (N, T-1, k) log-probs and ids."""
    labels = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)
    kwargs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"], "use_cache": False}
    if not topk:
        return model(**kwargs, labels=labels, fused_lm_head=True).log_probs, None, None
    logits = model(**kwargs).logits[:, :-1].float()  # (N, T-1, V)
    logps = logits.log_softmax(-1)
    token = logps.gather(-1, inputs["input_ids"][:, 1:, None]).squeeze(-1) * inputs["completion_mask"][:, 1:]
    top_logps, top_ids = logps.topk(topk, dim=-1)
    return token, top_logps, top_ids


LOSS_STATE = "loss_state.json"  # a checkpoint's file of the loss's own state (SequenceLoss.state)
_INPUTS = ("input_ids", "attention_mask", "completion_mask", "present", "ref_logps")  # the rest are batch extras


def _by_example(x: torch.Tensor, k: int) -> torch.Tensor:
    """(K*B, ...) laid out position-major -> (B, K, ...)."""
    return x.view(k, x.shape[0] // k, *x.shape[1:]).transpose(0, 1)


class PreferenceTrainer(Trainer):
    """transformers' Trainer with a `SequenceLoss`. `ref_model`: a frozen copy, or None (LoRA, precomputed,
    or an objective without a reference). `topk` > 0: the loss reads the policy's top-k next-token log-probs (a
    full-logits forward pass). Dropout is off in both, as TRL's `disable_dropout` default has it: a log-ratio
    against the reference must not be noise."""

    def __init__(self, *args, loss: SequenceLoss, uses_reference: bool, topk: int = 0, ref_model=None,
                 disable_dropout=True, **kwargs):  # fmt: skip
        from trl.trainer.utils import add_fused_lm_head, disable_dropout_in_model

        super().__init__(*args, **kwargs)
        self.loss, self.uses_reference, self.topk, self.ref_model = loss, uses_reference, topk, ref_model
        for model in (self.model, ref_model):
            if model is not None and disable_dropout:
                disable_dropout_in_model(model)
        add_fused_lm_head(self._base(self.model))
        if ref_model is not None:
            add_fused_lm_head(ref_model)
            self.ref_model = self._shard_reference(ref_model)
        self._metrics: dict[str, list[float]] = defaultdict(list)

    def _shard_reference(self, ref_model):
        """The frozen reference under the policy's engine, as TRL prepares its own: DeepSpeed (partitioned with the
        policy under ZeRO-3, an inference engine otherwise) or FSDP2 (sharded); on one device, as it is. Only a
        run on GPUs can show the memory this saves."""
        if self.is_deepspeed_enabled:
            from trl.models.utils import prepare_deepspeed

            return prepare_deepspeed(ref_model, self.accelerator)
        if self.is_fsdp_enabled:
            from trl.models.utils import prepare_fsdp

            return prepare_fsdp(ref_model, self.accelerator)
        return ref_model

    @staticmethod
    def _base(model):
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    def _reference_context(self):
        """Switch the LoRA adapter off while computing the reference log-probs (TRL's `use_adapter(None)`)."""
        model = self.accelerator.unwrap_model(self.model)
        if self.ref_model is None and hasattr(model, "disable_adapter"):
            return model.disable_adapter()
        return contextlib.nullcontext()

    @torch.no_grad()
    def reference_logps(self, inputs: dict) -> torch.Tensor:
        """(K*B,) reference sequence log-probs of a collated batch, under the policy's autocast (a frozen copy is not
        the prepared model, whose forward accelerate wraps; nor is the policy before training: `models.precision`)."""
        model = self.ref_model if self.ref_model is not None else self.model
        with self._reference_context():
            return self.policy_logps(inputs, model)

    @torch.no_grad()
    def policy_logps(self, inputs: dict, model=None) -> torch.Tensor:
        """(K*B,) sequence log-probs of a collated batch under `model` (the policy as it is now), the policy's
        autocast, no gradient."""
        with self.accelerator.autocast():
            token, _, _ = _per_token(self.model if model is None else model, inputs)
        return (token[:, -inputs["completion_mask"].shape[1] + 1 :]).sum(-1)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        k = inputs["present"].shape[1]
        token, top_logps, top_ids = _per_token(model, inputs, self.topk)
        seq_len = inputs["completion_mask"].shape[1] - 1
        token = token[:, -seq_len:]  # prompt-learning PEFT prepends virtual tokens; keep the real positions
        mask = inputs["completion_mask"][:, 1:]
        ref = None
        if self.uses_reference:
            if "ref_logps" in inputs:
                check_read(inputs, ("ref_logps",), inputs["present"])
                ref = inputs["ref_logps"]
            else:
                ref = _by_example(self.reference_logps(inputs), k)
        batch = SequenceBatch(
            logps=_by_example(token.sum(-1), k),
            ref_logps=ref,
            token_logps=_by_example(token, k),
            mask=_by_example(mask, k),
            present=inputs["present"],
            extras={name: value for name, value in inputs.items() if name not in _INPUTS},
            labels=_by_example(inputs["input_ids"][:, 1:], k) if top_ids is not None else None,
            topk_logps=None if top_logps is None else _by_example(top_logps, k),
            topk_ids=None if top_ids is None else _by_example(top_ids, k),
        )
        loss, metrics = self.loss(batch)
        for name, value in metrics.items():
            self._metrics[name].append(float(value))
        return (loss, {"loss": loss}) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the mean of each objective metric since the last log, as TRL's trainers do."""
        if "loss" in logs:
            logs = {**logs, **{k: sum(v) / len(v) for k, v in self._metrics.items() if v}}
            self._metrics.clear()
        super().log(logs, start_time)

    def _save_checkpoint(self, model, trial) -> None:
        super()._save_checkpoint(model, trial)
        if self.loss.state is not None and self.is_world_process_zero():  # every process holds the same state
            folder = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{self.state.global_step}")
            with open(os.path.join(folder, LOSS_STATE), "w") as fh:
                json.dump(self.loss.state.state_dict(), fh)

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        """transformers' train, with the loss's own state restored from the checkpoint it resumes from."""
        if resume_from_checkpoint and self.loss.state is not None:
            path = os.path.join(str(resume_from_checkpoint), LOSS_STATE)
            if os.path.exists(path):
                with open(path) as fh:
                    self.loss.state.load_state_dict(json.load(fh))
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def precompute_reference(self, dataset, batch_size: int):
        """The dataset with a `ref_logps` column (K per row): the reference runs once, before training."""
        rows = (dataset[i] for i in range(len(dataset)))
        return dataset.add_column("ref_logps", self.row_logps(rows, len(dataset), batch_size, self.reference_logps))

    def row_logps(self, rows, count: int, batch_size: int, logps: Callable, desc: str = "reference log-probs"):
        """Per row (an iterable of `count` rows of K sequences), the K sequence log-probs `logps(collated batch)`
        gives, in batches of `batch_size`."""
        import itertools

        from tqdm.auto import tqdm

        rows, device, values = iter(rows), self.accelerator.device, []
        for _ in tqdm(range(0, count, batch_size), desc=desc, leave=False):
            chunk = list(itertools.islice(rows, batch_size))
            inputs = {key: v.to(device) for key, v in self.data_collator(chunk).items()}
            by_example = _by_example(logps(inputs), inputs["present"].shape[1]).float().cpu()
            values.extend(by_example[i, : len(row["ids"])].tolist() for i, row in enumerate(chunk))
        return values


def pair_metrics(batch: SequenceBatch, beta: float) -> dict[str, float]:
    """TRL's DPO training metrics for K=2 batches (chosen, rejected): implicit rewards beta * log-ratio when there
    is a reference (else beta * log-prob), their accuracy and margin, and the policy's log-probs."""
    rewards = beta * (batch.logratios if batch.ref_logps is not None else batch.logps).detach()  # (B, 2)
    chosen, rejected = rewards[:, 0], rewards[:, 1]
    return {
        "rewards/chosen": chosen.mean().item(),
        "rewards/rejected": rejected.mean().item(),
        "rewards/accuracies": (chosen > rejected).float().mean().item(),
        "rewards/margins": (chosen - rejected).mean().item(),
        "logps/chosen": batch.logps[:, 0].detach().mean().item(),
        "logps/rejected": batch.logps[:, 1].detach().mean().item(),
    }


def forget_and_retain(batch: SequenceBatch, forget: torch.Tensor, retain_weight: float):
    """An unlearning loss: the mean forget term (over the first sequence of each example) plus `retain_weight`
    times the retain NLL, a mean over the retain tokens (the second sequence, when the batch has one)."""
    from contrastlab.objectives.losses.unlearning import token_nll

    metrics = {"loss/forget": forget.item(), "logps/forget": batch.logps[:, 0].detach().mean().item()}
    if batch.logps.shape[1] < 2 or retain_weight == 0:
        return forget, metrics
    retain = token_nll(batch.token_logps[:, 1], batch.mask[:, 1])
    metrics["loss/retain_nll"] = retain.item()
    return forget + retain_weight * retain, metrics
