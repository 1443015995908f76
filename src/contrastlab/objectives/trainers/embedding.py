"""Our trainer for the contrastive (sentence-embedding) objectives, on transformers' `Trainer`.

The objective gives a loss head: an `nn.Module` mapping the embeddings of each text column, (B, D) each, to a
scalar (it may hold parameters, such as a learnable scale). `ContrastiveModel` puts the embedder and the head
together so that the optimizer, checkpoints, precision and devices are transformers' as for every other
objective; `EmbeddingTrainer` adds the cached large-batch mode (`objective.mini_batch_size`, see
`grad_cache`; one process only). The trainer never asks which objective it runs.

Several processes (DDP, FSDP, DeepSpeed): every process gathers all processes' embeddings before the loss head, so
each text is contrasted with the whole global batch, and the averaged gradients are those of one process with the
global batch (see `gather_batch`).

Batches: rows {"anchor", "positive"[, "negative"]} of text, tokenized per column by `TextCollator`.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from transformers import Trainer

from contrastlab.distributed import is_distributed
from contrastlab.objectives.trainers.grad_cache import cached_loss_backward

COLUMNS = ("anchor", "positive", "negative")


class LossHead(nn.Module):
    """A loss over embeddings, `fn(anchor, positive, negative, scale=...)`, and its temperature.

    `temperature` sets scale = 1 / temperature; with `learn_scale` the log-scale is a parameter (as in CLIP),
    clamped to at most `max_scale`. `temperature=None`: the loss takes no scale.
    """

    def __init__(self, fn: Callable, temperature: float | None = None, learn_scale: bool = False,
                 max_scale: float = 100.0):  # fmt: skip
        super().__init__()
        self.fn, self.max_scale = fn, max_scale
        if temperature is None:
            self.log_scale = None
        else:
            log_scale = torch.tensor(math.log(1.0 / temperature))
            self.log_scale = nn.Parameter(log_scale, requires_grad=learn_scale)

    def scale(self) -> torch.Tensor | None:
        if self.log_scale is None:
            return None
        return self.log_scale.exp().clamp(max=self.max_scale)

    def forward(self, anchor, positive, negative=None) -> torch.Tensor:
        if self.log_scale is None:
            return self.fn(anchor, positive, negative)
        return self.fn(anchor, positive, negative, scale=self.scale())


def gather_batch(embeddings: torch.Tensor) -> torch.Tensor:
    """Every process's (B, D) embeddings, in rank order: (W * B, D); the embeddings themselves in one process.

    The gather is differentiable: its backward sums, over the W processes, the gradient each one's (identical) loss
    sends to this process's rows, i.e. W times d loss / d rows; DDP then averages the parameter gradients over the
    W processes, which gives exactly the gradient of the loss over the global batch in one process. Every process
    must hold a batch of the same size B (accelerate's `even_batches`, on by default)."""
    if not is_distributed():
        return embeddings
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(embeddings))


class ContrastiveModel(nn.Module):
    """The embedder and the loss head as one module: `forward(anchor=..., positive=...[, negative=...])` -> loss."""

    def __init__(self, embedder: nn.Module, head: nn.Module):
        super().__init__()
        self.embedder, self.head = embedder, head

    def embed_columns(self, columns: dict) -> list[torch.Tensor]:
        """(B, D) per column. Columns padded to one width go through the encoder in one pass (as SimCSE's code
        does with its two views), which is a few per cent faster than one pass per column."""
        parts = [columns[name] for name in COLUMNS if name in columns]
        if len({part["input_ids"].shape for part in parts}) > 1:
            return [self.embedder(**part) for part in parts]
        joint = {key: torch.cat([part[key] for part in parts]) for key in parts[0]}  # (k * B, T)
        return list(self.embedder(**joint).chunk(len(parts)))

    def forward(self, **columns) -> torch.Tensor:
        """The head's loss over the batch's columns, with several processes over the global batch."""
        return self.head(*[gather_batch(emb) for emb in self.embed_columns(columns)])


class TextCollator:
    """Rows of text -> {column: {"input_ids", "attention_mask"}}, cut at `max_length`.

    The columns are padded to one common width when that costs at most `joint_overhead` more padded tokens
    than padding each column to its own longest text (so the model embeds them in one pass), else each
    column to its own width (short queries with long passages).
    """

    def __init__(self, embedder, max_length: int, joint_overhead: float = 0.1):
        self.embedder, self.max_length, self.joint_overhead = embedder, max_length, joint_overhead

    def __call__(self, rows: list[dict]) -> dict:
        names = [name for name in COLUMNS if name in rows[0]]
        texts = [row[name] for name in names for row in rows]
        joint = self.embedder.tokenize(texts, self.max_length)  # (k * B, T)
        widths = joint["attention_mask"].sum(dim=1).view(len(names), len(rows)).amax(dim=1)  # (k,)
        together = joint["input_ids"].numel() <= (1 + self.joint_overhead) * len(rows) * int(widths.sum())
        left = getattr(self.embedder.tokenizer, "padding_side", "right") == "left"
        columns = {}
        for i, name in enumerate(names):
            width = joint["input_ids"].shape[1] if together else int(widths[i])
            cut = slice(-width, None) if left else slice(0, width)  # drop padding only this column has
            columns[name] = {key: value.chunk(len(names))[i][:, cut] for key, value in joint.items()}
        return columns


class EmbeddingTrainer(Trainer):
    """transformers' Trainer for a `ContrastiveModel`, with GradCache when `mini_batch_size` > 0."""

    def __init__(self, *args, mini_batch_size: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mini_batch_size = mini_batch_size

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = model(**inputs)
        return (loss, {"loss": loss}) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        batch = next(iter(inputs.values()))["input_ids"].size(0)
        if self.mini_batch_size <= 0 or self.mini_batch_size >= batch:
            return super().training_step(model, inputs, num_items_in_batch)
        model.train()
        inputs = self._prepare_inputs(inputs)
        inner = self.accelerator.unwrap_model(model)
        columns = [inputs[name] for name in COLUMNS if name in inputs]
        steps = self.current_gradient_accumulation_steps
        autocast = self.accelerator.autocast  # accelerate wraps the prepared model's forward, not its submodules'

        def embed(**chunk):  # so GradCache computes under the same precision as one uncached pass does
            with autocast():
                return inner.embedder(**chunk)

        def head(*embeddings):
            with autocast():
                return inner.head(*embeddings)

        with self.compute_loss_context_manager():
            loss = cached_loss_backward(embed, head, columns, self.mini_batch_size, self.accelerator.backward,
                                        loss_scale=1.0 / steps)  # fmt: skip
        return loss / steps
