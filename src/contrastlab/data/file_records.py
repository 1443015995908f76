"""Forget, Ranked and MultiAttribute records from the rows of a local file (data.source=file).

`data.sentences.detect_record_type` picks the type from the first row's columns (after `data.columns`):
- `prompt`, `completion`, `split` -> Forget; split is "forget" (to unlearn) or "retain" (to keep) on every
  row. The file splits as rt_forget does (`data.splits.split_forget`): every forget record trains and is
  evaluated; the retain records are held out by group;
- `prompt`, `completions` (a list of strings, at least two), `scores` (a list of numbers, one per
  completion; higher is better) -> Ranked;
- `prompt`, `chosen`, `rejected` (strings or message lists, read as preference pairs are, `data.files`),
  `scores_chosen` and `scores_rejected` (objects of attribute -> number with the same attributes; higher is
  better) -> MultiAttribute, the attributes in `scores_chosen`'s order.

Lists and objects need a .jsonl, .json or .parquet file (a CSV cell is text). The group is the `group`
column, else the prompt. As for every file, a record that cannot be read stops the run with a message
naming the file, the line and the fix (data.on_bad_record=error, the default), or is skipped and counted
(data.on_bad_record=skip).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from contrastlab.data.files import BadRecord, Columns, Origin, Row
from contrastlab.data.pair_formats import PARSERS as PAIR_PARSERS
from contrastlab.data.pair_formats import detect_format_of
from contrastlab.data.records import FORGET_SPLITS, Forget, MultiAttribute, Ranked
from contrastlab.data.sentences import cell, group_cell, parse_rows, text_cell

FILE_FIELDS = ("completion", "split", "completions", "scores", "scores_chosen", "scores_rejected")
LISTS = "a .jsonl, .json or .parquet file (a CSV cell is text)"


def _bad(origin: Origin, row: Row, problem: str, fix: str, reason: str) -> BadRecord:
    return BadRecord(f"{origin.name} {row.where}: {problem}; {fix}", reason)


def number(value: Any) -> float | None:
    """`value` as a finite float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def forget_of(row: Row, cols: Columns, origin: Origin) -> Forget:
    """A row with `prompt`, `completion` and `split` ("forget" or "retain")."""
    prompt, completion = text_cell(row, "prompt", cols, origin), text_cell(row, "completion", cols, origin)
    split = cell(row, "split", cols, origin, required=True)
    if split not in FORGET_SPLITS:
        raise _bad(origin, row, f"split is {split!r}", 'give every record split "forget" (a completion to unlearn) '
                   'or "retain" (one to keep)', "split not forget or retain")
    return Forget(prompt=prompt, completion=completion, split=split, group=group_cell(row, cols, origin, prompt))


def ranked_of(row: Row, cols: Columns, origin: Origin) -> Ranked:
    """A row with `prompt`, `completions` (strings) and `scores` (numbers), one score per completion."""
    prompt = text_cell(row, "prompt", cols, origin)
    completions = cell(row, "completions", cols, origin, required=True)
    if not isinstance(completions, list) or not all(isinstance(c, str) and c.strip() for c in completions):
        raise _bad(origin, row, "completions is not a list of non-empty strings",
                   f"give completions as a list of texts in {LISTS}", "completions not a list of texts")
    if len(completions) < 2:
        raise _bad(origin, row, f"completions holds {len(completions)} text, so there is nothing to rank",
                   "give at least two completions, or drop the record", "fewer than two completions")
    scores = cell(row, "scores", cols, origin, required=True)
    values = [number(score) for score in scores] if isinstance(scores, list) else [None]
    if None in values:
        raise _bad(origin, row, f"scores is {scores!r}, not a list of numbers",
                   f"give scores as a list of numbers (higher is better) in {LISTS}", "scores not numbers")
    if len(values) != len(completions):
        raise _bad(origin, row, f"{len(completions)} completions but {len(values)} scores",
                   "give one score per completion, in the same order", "scores and completions differ in length")
    return Ranked(prompt=prompt, completions=list(completions), scores=values,
                  group=group_cell(row, cols, origin, prompt))


def _scores(row: Row, field: str, cols: Columns, origin: Origin) -> dict[str, float]:
    value = cell(row, field, cols, origin, required=True)
    scores = {str(name): number(score) for name, score in value.items()} if isinstance(value, dict) else {}
    if not scores or None in scores.values():
        raise _bad(origin, row, f"{field} is {value!r}, not an object of attribute -> number",
                   f'give {field} as e.g. {{"helpfulness": 3, "brevity": 0.5}} in {LISTS}',
                   f"{field} not attribute scores")
    return scores


def multi_of(row: Row, cols: Columns, origin: Origin, parse_pair: Callable) -> MultiAttribute:
    """A preference pair (read by `parse_pair`) with `scores_chosen` and `scores_rejected` over the same attributes."""
    pair = parse_pair(row, cols, origin)
    if pair.chosen == pair.rejected:
        raise _bad(origin, row, "chosen equals rejected", "give two different completions, or drop the record",
                   "chosen equals rejected")
    chosen, rejected = _scores(row, "scores_chosen", cols, origin), _scores(row, "scores_rejected", cols, origin)
    if set(chosen) != set(rejected):
        raise _bad(origin, row, f"scores_chosen has attributes {', '.join(chosen)} but scores_rejected has "
                   f"{', '.join(rejected)}", "score both completions on the same attributes",
                   "scores over different attributes")
    return MultiAttribute(prompt=pair.prompt, chosen=pair.chosen, rejected=pair.rejected, scores_chosen=chosen,
                          scores_rejected={name: rejected[name] for name in chosen}, group=pair.group)


def parse_file_records(rows: list[Row], record: str, cols: Columns, origin: Origin) -> list:
    """Rows -> records of the type named `record` (Forget, Ranked or MultiAttribute)."""
    if record == Forget.__name__:
        return parse_rows(rows, forget_of, cols, origin, "records to forget or retain")
    if record == Ranked.__name__:
        return parse_rows(rows, ranked_of, cols, origin, "ranked lists")
    parse_pair = PAIR_PARSERS[detect_format_of(rows, cols, origin)] if rows else None
    return parse_rows(rows, lambda row, c, o: multi_of(row, c, o, parse_pair), cols, origin,
                      "multi-attribute pairs")
