"""Train/eval splits shared by every source: hold out whole groups, subsample with a seed.

- `hold_out`: a seeded `fraction` of the groups (films, prompts, anchors, documents) is held out, so that
  no group is in both parts;
- `subsample`: at most `limit` records, a seeded sample kept in the original order;
- `split_forget`: the rule for Forget records (data.source=rt_forget, or a file with a `split` column).
  Every forget record trains, and every forget record is evaluated too (unlearning is measured on the
  forget set itself); the retain records are held out by group like any other source. data.max_train
  samples the retain training records only (forget records are never dropped), data.max_eval caps the
  held-out retain records. The eval list is the forget records first, then the held-out retain records.
"""

from __future__ import annotations

import random

from contrastlab.data.records import FORGET_SPLITS
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


def split_forget(records: list, fraction: float, seed: int, data_name: str, max_train: int | None = None,
                 max_eval: int | None = None) -> tuple[list, list]:
    """(train, eval) of Forget records: train = every forget record + a seeded sample of the retain groups not
    held out; eval = every forget record, then the held-out retain records (at most `max_eval`)."""
    forget = [record for record in records if record.split == FORGET_SPLITS[0]]
    retain = [record for record in records if record.split == FORGET_SPLITS[1]]
    if not forget:
        raise UserError(f'data={data_name} has no forget records (split="forget"), so there is nothing to '
                        'unlearn; mark the records to unlearn split="forget"')
    retain_train, retain_eval = hold_out(retain, fraction, seed, data_name) if retain else ([], [])
    retain_train = subsample(retain_train, max_train, seed, "train")
    retain_eval = subsample(retain_eval, max_eval, seed, "eval")
    return forget + retain_train, forget + retain_eval
