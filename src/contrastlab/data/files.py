"""Local record files: reading them into rows, and what a bad record or an unreadable file becomes.

`read_any` reads a `.jsonl`, `.json`, `.csv`, `.parquet` or `.txt` file (the text ones may be `.gz`; a `.txt` file is
one sentence a line, blank lines skipped) into rows that remember where they came from ("line 3"); each record
type's `parse` (`data.records`) turns rows into records. `peek_columns` reads only a file's first row (a CSV's
header, a Parquet schema), so a file's record type is known before anything heavy loads.

A record that cannot be read (a missing or empty field, a value that is not text, chosen equal to rejected, a
broken JSON line) is a `BadRecord`: with a strict `Origin` (data.on_bad_record=error, the default for your own
files) it stops the run naming the file, the line and the field; otherwise (data.on_bad_record=skip, the default
for the hub sources, `data.hub`) it is skipped, counted by reason in `Origin.skipped` (and in `Origin.tally`, the
caller's count over every origin) and reported in one warning. A file that is not UTF-8 always stops the run,
naming the line to fix.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import logging
from collections import Counter
import dataclasses
from dataclasses import dataclass
from typing import Iterator, Mapping

from contrastlab.errors import UserError

log = logging.getLogger(__name__)

KINDS = ("jsonl", "json", "csv", "parquet")
Columns = Mapping[str, str | None]  # our field -> the column holding it (None: not read)


@dataclass
class Row:
    """One record of a file or split, with where it came from ("line 3", "row 12")."""

    where: str
    values: dict


class BadRecord(UserError):
    """A record whose content the format cannot read (skipped when the origin is not strict). `reason` names the
    kind of problem for the counts ("empty chosen", "chosen equals rejected", "bad JSON")."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Origin:
    """What the rows came from, for messages, and whether a bad record stops the run (strict) or is skipped."""

    name: str  # the file path, or "hub dataset X split Y"
    strict: bool = True
    tally: Counter | None = dataclasses.field(default=None, compare=False, repr=False)  # skips over every origin
    skipped: Counter = dataclasses.field(default_factory=Counter, compare=False, repr=False)  # reason -> count
    example: str = dataclasses.field(default="", compare=False, repr=False)  # the first skipped record's message

    def skip(self, err: BadRecord) -> None:
        """A bad record: raised when strict, else counted."""
        if self.strict:
            raise err
        self.skipped[err.reason] += 1
        self.example = self.example or str(err)

    def reasons(self) -> str:
        """What was skipped, most frequent first: "2 empty chosen; 1 bad JSON"."""
        return "; ".join(f"{count} {reason}" for reason, count in self.skipped.most_common())


def usable(records: list, read: int, origin: Origin, what: str, check: str) -> list:
    """`records` parsed from `read` records of `origin`: logs one warning for what was skipped (and adds it to
    `origin.tally`); a UserError naming the reasons and the first bad record when nothing is left."""
    if origin.skipped:
        log.warning("%s: skipped %d of %d records (%s)", origin.name, sum(origin.skipped.values()), read,
                    origin.reasons())
        if origin.tally is not None:
            origin.tally.update(origin.skipped)
    if not records:
        raise no_records(origin, what, check)
    return records


def no_records(origin: Origin, what: str = "records", check: str = "check the file") -> UserError:
    """The error for a file or split that gave nothing: empty, or every record skipped."""
    if not origin.skipped:
        return UserError(f"{origin.name} holds no records; pass a file with data.path=FILE")
    total = sum(origin.skipped.values())
    return UserError(f"{origin.name} gave no usable {what} ({total} records read, all skipped: {origin.reasons()}; "
                     f"the first: {origin.example}); {check}")


def file_kind(path: str) -> str | None:
    """The file's kind from its name ("jsonl", "json", "csv", "parquet"), or None."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
        if name.endswith(".parquet"):
            return None
    for kind in KINDS:
        if name.endswith("." + kind):
            return kind
    return None


def read_rows(path: str, origin: Origin | None = None) -> list[Row]:
    """Every record of a local file, in file order. Raises UserError if it cannot be read; a broken JSON line is
    a BadRecord of `origin` (skipped and counted when it is not strict)."""
    kind = file_kind(path)
    if kind is None:
        raise UserError(f"data.path={path}: unknown file type; use a .jsonl, .json, .csv or .parquet file")
    try:
        if kind == "jsonl":
            return list(iter_jsonl(path, origin))
        if kind == "json":
            return _read_json(path)
        if kind == "csv":
            return _read_csv(path)
        return _read_parquet(path)
    except UserError:
        raise
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except (OSError, ValueError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{path}: cannot read it as {kind} ({detail}); check the file, "
                        "or pass another with data.path=FILE")


def open_text(path: str):
    """A text file, UTF-8 (a leading UTF-8 byte-order mark dropped), gunzipped on the fly when it ends in .gz.
    Reading bytes that are not UTF-8 raises UnicodeDecodeError: turn it into `not_utf8(path)`."""
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")


def not_utf8(path: str) -> UserError:
    """The error for a text file that is not UTF-8, naming the line of its first undecodable byte."""
    fix = "re-save the file as UTF-8"
    with (gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")) as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return UserError(f"{path} line 1: the file is UTF-16 text (it starts with a UTF-16 byte-order mark), "
                                 f"not UTF-8; {fix} (e.g. iconv -f UTF-16 -t UTF-8)")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return UserError(f"{path} line {number}: not UTF-8 text (byte 0x{raw[err.start]:02x} at byte "
                                 f"{err.start + 1} of the line; Latin-1 or Windows-1252, perhaps); {fix} "
                                 "(e.g. iconv -f LATIN1 -t UTF-8)")
    return UserError(f"{path}: not UTF-8 text; {fix}")


def iter_jsonl(path: str, origin: Origin | None = None) -> Iterator[Row]:
    """The rows of a JSONL file, one JSON object a line (blank lines skipped), read lazily. A line that is not a
    JSON object is a BadRecord of `origin` (raised when there is none or it is strict, else skipped and counted)."""
    origin = origin or Origin(path)
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    values = json.loads(line)
                except json.JSONDecodeError as err:
                    origin.skip(BadRecord(f"{path} line {number}: not valid JSON ({err.msg} at column {err.colno}); "
                                          "each line must be one JSON object", "bad JSON"))
                    continue
                if not isinstance(values, dict):
                    origin.skip(BadRecord(f"{path} line {number}: a JSON {type(values).__name__}, not an object; "
                                          "each line must be one JSON object", "not a JSON object"))
                    continue
                yield Row(f"line {number}", values)
    except UnicodeDecodeError:
        raise not_utf8(path) from None


def _read_json(path: str) -> list[Row]:
    with open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as err:
            raise UserError(f"{path} line {err.lineno}: not valid JSON ({err.msg})")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise UserError(f"{path}: a .json file must hold a list of objects, one per record; "
                        "or write one object a line to a .jsonl file")
    return [Row(f"record {number}", values) for number, values in enumerate(data, 1)]


def _read_csv(path: str) -> list[Row]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        detail = str(err).splitlines()[0]
        raise UserError(f"{path}: not a readable CSV file ({detail}); check its quoting and header row")
    return [Row(f"row {number}", values) for number, values in enumerate(frame.to_dict("records"), 1)]


def _read_parquet(path: str) -> list[Row]:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except pyarrow.ArrowException as err:
        raise UserError(f"{path}: not a readable Parquet file ({str(err).splitlines()[0]})")
    return [Row(f"record {number}", values) for number, values in enumerate(table.to_pylist(), 1)]


def missing_field(row: Row, field: str, column: str | None, origin: Origin) -> BadRecord:
    """The BadRecord for a row without the column of a required field, naming the columns it has and the fix."""
    have = ", ".join(list(row.values)[:10])
    if column == field or column is None:
        fix = f"map it with +data.columns.{field}=COLUMN, or give every record a {field}"
    else:
        fix = f"data.columns.{field}={column} names a column it lacks; fix it with data.columns.{field}=COLUMN"
    return BadRecord(f'{origin.name} {row.where}: no "{column or field}" field for {field} (it has: {have}); {fix}',
                     f"missing {field}")


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
        peek = Origin(path, strict=origin.strict) if origin else Origin(path)
        row = next(iter_jsonl(path, peek), None)
        if row is None:
            raise no_records(peek)
        return row
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
