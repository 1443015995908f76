"""Sentence records from rows: what `data.source=file` and the text hub sources (`data.hub_text`) share.

A row gives, by the columns it has (after `data.columns`):
- `text` -> `Sentence` (group: the `group` column, else the text itself);
- `anchor` and `positive`, optionally `negative` -> `SentencePair` (group: the `group` column, else the
  anchor, so that every pair of one anchor stays on one side of the split); an empty negative is None;
- `text1`, `text2` and `score` in [0, 1] -> `ScoredPair` (group: the `group` column, else text1; the STS-B
  schema, read by `data.hub_text` and `data.benchmarks`). A score outside [0, 1] always stops the run.

A `.txt` file (or `.txt.gz`) is one sentence a line; blank lines are skipped. `detect_record_type` decides
a file's record type from the columns of its first row: `completion` + `split` -> Forget; `completions` ->
Ranked; `scores_chosen` -> MultiAttribute (those three are parsed by `data.file_records`); `chosen` ->
PreferencePair; `anchor` + `positive` -> SentencePair; `text` -> Sentence. `peek_columns` reads only that
row (a CSV's header, a Parquet schema), so `native_record_type` can ask before anything heavy loads.

As for preference pairs (`data.files`), a record that cannot be read (a missing or empty field, a value that is
not text, a broken JSON line) stops the run when its `Origin` is strict, else it is skipped and counted.
"""

from __future__ import annotations

import csv
import math
from typing import Any, Callable, Mapping

from contrastlab.data.files import (BadRecord, Columns, Origin, Row, file_kind, iter_jsonl, missing_field, no_records,
                                   not_utf8, open_text, read_rows, usable)
from contrastlab.data.records import Forget, MultiAttribute, PreferencePair, Ranked, ScoredPair, Sentence, SentencePair
from contrastlab.errors import UserError

TEXT_FIELDS = ("text", "anchor", "positive", "negative", "text1", "text2", "score")
PREFERENCE_HINT = ("map it with +data.columns.chosen=COLUMN for preference pairs, or give sentences a \"text\" "
                   "column (+data.columns.text=COLUMN) and sentence pairs \"anchor\" and \"positive\" columns "
                   "(+data.columns.anchor=COLUMN +data.columns.positive=COLUMN)")


def text_columns(columns: Mapping[str, str] | None, defaults: Columns | None = None) -> dict[str, str | None]:
    """Our field -> the column holding it: `defaults` (by default each field's own name), then data.columns."""
    mapping: dict[str, str | None] = dict(defaults) if defaults is not None else {
        name: name for name in TEXT_FIELDS + ("group",)}
    mapping.update({str(name): str(column) for name, column in dict(columns or {}).items()})
    return mapping


def is_txt(path: str) -> bool:
    """Whether a path names a one-sentence-a-line text file (.txt or .txt.gz)."""
    return path.lower().endswith((".txt", ".txt.gz"))


def read_txt(path: str) -> list[Row]:
    """One row {"text": line} per non-blank line of a text file, ends stripped."""
    try:
        with open_text(path) as handle:
            return [Row(f"line {number}", {"text": line.strip()}) for number, line in enumerate(handle, 1)
                    if line.strip()]
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except OSError as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{path}: cannot read it as UTF-8 text, one sentence a line ({detail}); check the file")


def read_any(path: str, origin: Origin | None = None) -> list[Row]:
    """Every record of a local .txt, .jsonl, .json, .csv or .parquet file, in file order (a broken JSON line is a
    bad record of `origin`)."""
    return read_txt(path) if is_txt(path) else read_rows(path, origin)


def peek_columns(path: str, origin: Origin | None = None) -> Row:
    """The first record's columns (values unread for CSV and Parquet), reading as little of the file as it can.
    A JSONL file's broken lines before it are skipped when `origin` is not strict (and not counted: the file is
    read again)."""
    kind = "txt" if is_txt(path) else file_kind(path)
    if kind == "txt":
        return Row("line 1", {"text": None})
    if kind == "parquet":
        import pyarrow
        import pyarrow.parquet as pq

        try:
            return Row("record 1", {name: None for name in pq.read_schema(path).names})
        except pyarrow.ArrowException as err:
            raise UserError(f"{path}: not a readable Parquet file ({str(err).splitlines()[0]})")
    if kind == "jsonl":
        return _first_json_line(path, Origin(path, strict=origin.strict) if origin else Origin(path))
    if kind == "csv":
        try:
            with open_text(path) as handle:
                header = next(csv.reader(handle), None)
        except UnicodeDecodeError:
            raise not_utf8(path) from None
        if not header:
            raise UserError(f"{path} holds no records; pass a file with data.path=FILE")
        return Row("row 1", {name: None for name in header})
    rows = read_rows(path)  # .json: one list, read whole
    if not rows:
        raise UserError(f"{path} holds no records; pass a file with data.path=FILE")
    return rows[0]


def _first_json_line(path: str, origin: Origin) -> Row:
    row = next(iter_jsonl(path, origin), None)
    if row is None:
        raise no_records(origin)
    return row


def detect_record_type(row: Row, cols: Columns, origin: Origin) -> str:
    """The record type a file's rows give, from the columns of its first row (see the module docstring)."""

    def has(field: str) -> bool:
        return (cols.get(field) or field) in row.values

    if has("completion") and has("split"):
        return Forget.__name__
    if has("completion"):
        completion, split = cols.get("completion") or "completion", cols.get("split") or "split"
        raise UserError(f'{origin.name} {row.where}: a "{completion}" column for completion but no "{split}" column '
                        'for split; completions to unlearn or keep need split "forget" or "retain" on every row: '
                        "map it with +data.columns.split=COLUMN")
    if has("completions"):
        return Ranked.__name__
    if has("scores_chosen") or has("scores_rejected"):
        return MultiAttribute.__name__
    if has("chosen") or has("rejected"):
        return PreferencePair.__name__
    if has("anchor") and has("positive"):
        return SentencePair.__name__
    if has("anchor") != has("positive"):
        present, missing = ("anchor", "positive") if has("anchor") else ("positive", "anchor")
        raise UserError(f'{origin.name} {row.where}: a "{cols.get(present) or present}" column for {present} but no '
                        f'"{cols.get(missing) or missing}" column for {missing}; map it with '
                        f"+data.columns.{missing}=COLUMN")
    if has("text"):
        return Sentence.__name__
    if has("prompt"):
        return PreferencePair.__name__  # the preference parser names what is missing
    have = ", ".join(list(row.values)[:10])
    raise UserError(f'{origin.name} {row.where}: no "chosen" field for chosen (it has: {have}); {PREFERENCE_HINT}')


def cell(row: Row, field: str, cols: Columns, origin: Origin, required: bool) -> Any:
    """The row's value for `field` (NaN read as None); a missing required column is a BadRecord naming the fix."""
    column = cols.get(field) or field
    if column in row.values:
        value = row.values[column]
        return None if isinstance(value, float) and math.isnan(value) else value
    if not required:
        return None
    raise missing_field(row, field, column, origin)


def text_cell(row: Row, field: str, cols: Columns, origin: Origin) -> str:
    """The row's non-empty string for `field`, else a BadRecord naming the row."""
    value = cell(row, field, cols, origin, required=True)
    if value is None:
        raise BadRecord(f"{origin.name} {row.where}: {field} is empty (null); give every record a string {field}",
                        f"empty {field}")
    if not isinstance(value, str):
        raise BadRecord(f"{origin.name} {row.where}: {field} is {value!r:.40} ({type(value).__name__}), not text; "
                        f"give every record a string {field}", f"{field} not text")
    if not value.strip():
        raise BadRecord(f"{origin.name} {row.where}: {field} is empty; give every record a non-empty {field}, "
                        "or drop the record", f"empty {field}")
    return value


def _optional_string(row: Row, field: str, cols: Columns, origin: Origin) -> str | None:
    value = cell(row, field, cols, origin, required=False)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{origin.name} {row.where}: {field} is {value!r:.40} ({type(value).__name__}), not text; "
                        f"give {field} as a string, or leave it empty", f"{field} not text")
    return value


def _unit_score(row: Row, field: str, cols: Columns, origin: Origin) -> float:
    value = cell(row, field, cols, origin, required=True)
    try:
        if isinstance(value, bool):
            raise TypeError(field)
        score = float(value)
    except (TypeError, ValueError):
        raise BadRecord(f"{origin.name} {row.where}: {field} is {value!r}, not a number; give every pair a "
                        f"{field} in [0, 1]", f"{field} not a number")
    if not 0.0 <= score <= 1.0:
        raise UserError(f"{origin.name} {row.where}: {field} is {value!r}, outside [0, 1]; give similarity scores "
                        "scaled to [0, 1] (GLUE's STS-B scores 0-5: divide them by 5)")
    return score


def group_cell(row: Row, cols: Columns, origin: Origin, default: str) -> str:
    """The row's `group` column as text, else `default`."""
    group = cell(row, "group", cols, origin, required=False)
    return default if group is None or group == "" else str(group)


def sentence_of(row: Row, cols: Columns, origin: Origin) -> Sentence:
    """A row with `text`."""
    text = text_cell(row, "text", cols, origin)
    return Sentence(text=text, group=group_cell(row, cols, origin, text))


def pair_of(row: Row, cols: Columns, origin: Origin) -> SentencePair:
    """A row with `anchor`, `positive` and an optional `negative`."""
    anchor, positive = text_cell(row, "anchor", cols, origin), text_cell(row, "positive", cols, origin)
    negative = _optional_string(row, "negative", cols, origin)
    return SentencePair(anchor=anchor, positive=positive, negative=negative,
                        group=group_cell(row, cols, origin, anchor))


def scored_of(row: Row, cols: Columns, origin: Origin) -> ScoredPair:
    """A row with `text1`, `text2` and `score` in [0, 1]."""
    text1, text2 = text_cell(row, "text1", cols, origin), text_cell(row, "text2", cols, origin)
    score = _unit_score(row, "score", cols, origin)
    return ScoredPair(text1=text1, text2=text2, score=score, group=group_cell(row, cols, origin, text1))


def parse_rows(rows: list[Row], parse: Callable[[Row, Columns, Origin], Any], cols: Columns, origin: Origin,
               what: str) -> list:
    """Rows -> records with `parse`; a bad record stops the run (strict origin) or is skipped and counted."""
    if not rows:
        raise no_records(origin, what, "check the file")
    read = len(rows) + sum(origin.skipped.values())  # the rows, and the lines skipped as they were read
    records = []
    for row in rows:
        try:
            records.append(parse(row, cols, origin))
        except BadRecord as err:
            origin.skip(err)
    return usable(records, read, origin, what, "check data.columns")


PARSERS: dict[str, tuple[Callable[[Row, Columns, Origin], Any], str]] = {
    Sentence.__name__: (sentence_of, "sentences"),
    SentencePair.__name__: (pair_of, "sentence pairs"),
    ScoredPair.__name__: (scored_of, "scored pairs"),
}


def parse_records(rows: list[Row], record: str, cols: Columns, origin: Origin) -> list:
    """Rows -> records of the type named `record` (Sentence, SentencePair or ScoredPair)."""
    parse, what = PARSERS[record]
    return parse_rows(rows, parse, cols, origin, what)
