"""The training rows a run will read, so that `objective.precompute_ref` computes the reference log-probs of those
rows only (a 3-step run of 4 pairs a step reads 12 pairs, not the whole training set).

The rows are taken from the trainer's own training dataloader, before training: its batch sampler, with the seed
of `train.seed`, yields the same order at the first epoch as when `train()` builds it again, and a run of
`max_steps` optimizer steps reads the first `max_steps x grad_accum x batch_size x processes` indices of that order
(each process takes its batches in turn from the one global order). Every other row gets a NaN reference value;
`check_read` stops a run that reads one, so a mistake here can never train on a made-up reference.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

import torch

log = logging.getLogger(__name__)


def rows_read(trainer) -> Optional[list[int]]:
    """The sorted indices of `trainer.train_dataset` that `trainer.train()` will read, or None when it reads every
    row (a run of at least one epoch, no step limit, or a sampler that cannot be read ahead)."""
    args, dataset = trainer.args, trainer.train_dataset
    steps = args.max_steps
    total = steps * args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
    if steps is None or steps <= 0 or not hasattr(dataset, "__len__") or total >= len(dataset):
        return None
    loader = trainer.get_train_dataloader()
    try:
        batches = loader.batch_sampler
        while hasattr(batches, "batch_sampler"):  # accelerate's per-process shard of the one global batch order
            batches = batches.batch_sampler
        if batches is None:
            return None
        order: list[int] = []
        for batch in batches:
            order.extend(int(i) for i in batch)
            if len(order) >= total:
                break
    finally:
        prepared = getattr(trainer.accelerator, "_dataloaders", None)
        if prepared is not None and loader in prepared:  # a look ahead, not a loader the trainer keeps
            prepared.remove(loader)
    return sorted(set(order[:total]))


def precompute_rows(dataset, rows: Optional[list[int]], compute: Callable, blank: Callable) -> object:
    """`dataset` with the reference columns that `compute(part)` adds to `part`, computed for `rows` only (None:
    all); every other row gets `blank(row)`, a NaN value of the column's shape."""
    if rows is None:
        return compute(dataset)
    part = compute(dataset.select(rows))
    new = [c for c in part.column_names if c not in dataset.column_names]
    print(f"reference log-probs: the {len(rows):,} of {len(dataset):,} training rows this run reads", flush=True)
    out = dataset
    for column in new:
        values = [blank(dataset[i]) for i in range(len(dataset))]
        for i, value in zip(rows, part[column]):
            values[i] = value
        out = out.add_column(column, values)
    return out


def check_read(inputs: dict, columns: tuple[str, ...], present: Optional[torch.Tensor] = None) -> None:
    """Stops a run whose batch holds a reference value that was not computed (a row outside `rows_read`)."""
    for name in columns:
        value = inputs.get(name)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            continue
        missing = torch.isnan(value if present is None else value[present.bool()])
        if missing.any():
            raise RuntimeError(f"precomputed reference log-probs: the batch holds a row whose '{name}' was not "
                               "computed (the rows read ahead were not the rows trained on); this is a contrastlab "
                               "bug: rerun with objective.precompute_ref=false and report it")  # fmt: skip
