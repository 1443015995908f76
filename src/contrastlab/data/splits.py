"""Train/eval splits shared by every source: hold out whole groups, subsample with a seed.

- `hold_out`: a seeded `fraction` of the groups (films, prompts, anchors, documents) is held out, so that
  no group is in both parts;
- `subsample`: at most `limit` records, a seeded sample kept in the original order.

A record type with a rule of its own (`Forget.split`) builds it from these.
"""

from __future__ import annotations

import random

from contrastlab.errors import UserError


def hold_out(records: list, fraction: float, seed: int, data_name: str) -> tuple[list, list]:
    """Split records by group: a seeded `fraction` of the groups is held out; no group is in both parts."""
    if fraction <= 0:
        return list(records), []
    keys = [record.group or f"record {index}" for index, record in enumerate(records)]
    groups = sorted(set(keys))
    if len(groups) < 2:
        raise UserError(f"data={data_name} has {len(groups)} group, so none can be held out for evaluation; "
                        "add records, or set data.eval_fraction=0")
    count = min(max(1, round(fraction * len(groups))), len(groups) - 1)
    random.Random(f"contrastlab-hold-out-{seed}").shuffle(groups)
    held = set(groups[:count])
    train = [record for record, key in zip(records, keys) if key not in held]
    evals = [record for record, key in zip(records, keys) if key in held]
    return train, evals


def subsample(records: list, limit: int | None, seed: int, part: str) -> list:
    """At most `limit` records: a seeded sample, kept in the original order."""
    if limit is None or len(records) <= limit:
        return list(records)
    chosen = sorted(random.Random(f"contrastlab-{part}-{seed}").sample(range(len(records)), limit))
    return [records[index] for index in chosen]
