"""Where this process stands among the processes of a run (`hardware.num_processes` > 1), and the two collective
operations the held-out evaluation needs: split a list of items over the processes, and gather the per-item
results back in the original order on every process.

Every helper works unchanged in one process (no process group: rank 0 of 1). The process group itself is made by
accelerate (through transformers' `TrainingArguments`) in the processes `launch` starts; nothing here starts one.
Sharded models (FSDP, DeepSpeed ZeRO-3) need every process to run the same number of forward passes, so `shard`
gives every process the same number of items (the last ones repeated where the list does not divide evenly).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

WORKER_ENV = "CONTRASTLAB_WORKER"  # set by `launch` in the processes it starts


def _group_ready() -> bool:
    """A process group exists (made by accelerate once the trainer's arguments are built)."""
    if "torch.distributed" not in sys.modules:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes of this run: the process group's size, or the launcher's WORLD_SIZE before the group exists."""
    if _group_ready():
        import torch.distributed as dist

        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1")) if in_worker() else 1


def rank() -> int:
    """This process's rank: the process group's, or the launcher's RANK before the group exists (0 alone)."""
    if _group_ready():
        import torch.distributed as dist

        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if in_worker() else 0


def is_main() -> bool:
    """True on the process that writes the run folder and logs to W&B (rank 0)."""
    return rank() == 0


def in_worker() -> bool:
    """True in a process started by `contrastlab.app.launch` (one of `hardware.num_processes`)."""
    return os.environ.get(WORKER_ENV) == "1"


def is_distributed() -> bool:
    """True when a process group of more than one process exists (the collectives below then do something)."""
    return _group_ready() and world_size() > 1


def barrier() -> None:
    if _group_ready():
        import torch.distributed as dist

        dist.barrier()


def shard(items: Sequence) -> list:
    """This process's contiguous share of `items`: ceil(N / world) items each, the list's last item repeated to fill
    the last shares (so that every process runs the same number of batches). `gather(results, len(items))` undoes
    it. One process: the list itself."""
    world = world_size() if _group_ready() else 1  # no group yet: nothing to gather with, so no split
    if world == 1:
        return list(items)
    per = -(-len(items) // world)  # ceil
    start = rank() * per
    local = list(items[start : start + per])
    filler = items[-1] if len(items) else None
    return local + [filler] * (per - len(local)) if len(items) else []


def shard_start(total: int) -> int:
    """The index in the list of `total` items of the first item of this process's `shard` (0 in one process; at
    least `total` for a share made only of fillers)."""
    world = world_size() if _group_ready() else 1
    return 0 if world == 1 else rank() * -(-total // world)


def gather(local: list, total: int) -> list:
    """The per-item results of every process's `shard`, in the original order, first `total` of them (the repeated
    fillers dropped), on every process. One process: `local` itself."""
    if not _group_ready() or world_size() == 1:
        return list(local)
    import torch.distributed as dist

    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, list(local))
    return [item for part in parts for item in part][:total]


def gather_tensor(local, total: int):
    """`gather` for a tensor whose first dimension runs over this process's shard of the items: the (total, ...)
    tensor on every process (on the CPU)."""
    import torch

    if not _group_ready() or world_size() == 1:
        return local
    rows = gather([row for row in local.cpu()], total)
    return torch.stack(rows) if rows else local.cpu()[:0]


def max_over_ranks(value: float, device=None) -> float:
    """The largest `value` over the processes (every process must call it at the same point); alone, `value`."""
    if not _group_ready():
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())
