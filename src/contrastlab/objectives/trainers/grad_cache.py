"""Cached large-batch contrastive training (GradCache: Gao et al. 2021, arXiv:2101.06983).

A contrastive loss couples every text of the batch, so the batch cannot simply be split into micro-batches.
GradCache splits the *encoder's* work instead:

1. embed the batch in chunks without a graph, keeping each chunk's random state;
2. compute the loss on the full batch of (detached, grad-requiring) embeddings and back-propagate it to the
   embeddings (and to the loss's own parameters, such as a learnable scale);
3. embed each chunk again with a graph, replaying its random state (same dropout masks), and back-propagate
   the cached embedding gradients through it.

Peak activation memory is one chunk's, and the parameter gradients equal the uncached ones.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch


class RandomState:
    """The CPU and CUDA random states at construction, replayable later (dropout masks repeat exactly)."""

    def __init__(self):
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None

    @contextmanager
    def replay(self):
        devices = list(range(torch.cuda.device_count())) if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state_all(self.cuda)
            yield


def _chunks(features: dict[str, torch.Tensor], size: int) -> list[dict[str, torch.Tensor]]:
    total = next(iter(features.values())).size(0)
    return [{k: v[start : start + size] for k, v in features.items()} for start in range(0, total, size)]


def cached_loss_backward(
    embed: Callable[..., torch.Tensor],
    loss_fn: Callable[..., torch.Tensor],
    columns: list[dict[str, torch.Tensor]],
    chunk_size: int,
    backward: Callable[[torch.Tensor], None],
    loss_scale: float = 1.0,
) -> torch.Tensor:
    """GradCache forward and backward of `loss_fn(*[embed(**column) for column in columns])`; returns the loss.

    `columns`: one dict of (N, T) tensors per text column (anchor, positive, optional negative).
    `backward(tensor)` back-propagates a scalar (the trainer's `accelerator.backward`).
    `loss_scale` multiplies what is back-propagated (1 / gradient accumulation steps), not the returned loss.
    """
    # 1. embeddings without a graph, chunk by chunk, remembering each chunk's random state
    states: list[list[RandomState]] = []
    cached: list[torch.Tensor] = []
    for column in columns:
        column_states, parts = [], []
        for chunk in _chunks(column, chunk_size):
            column_states.append(RandomState())
            with torch.no_grad():
                parts.append(embed(**chunk))  # (n, D)
        states.append(column_states)
        cached.append(torch.cat(parts).detach().requires_grad_())  # (N, D)

    # 2. the loss on the full batch, back to the embeddings (and the loss's own parameters)
    loss = loss_fn(*cached)
    backward(loss * loss_scale)

    # 3. each chunk again with a graph, same random state, fed the cached embedding gradients
    for column, column_states, reps in zip(columns, states, cached):
        start = 0
        for chunk, state in zip(_chunks(column, chunk_size), column_states):
            with state.replay():
                emb = embed(**chunk)  # (n, D)
            grad = reps.grad[start : start + emb.size(0)]
            backward((emb * grad).sum())
            start += emb.size(0)
    return loss.detach()
