"""Local preference files and the record formats every file-like source shares.

`read_rows` reads a `.jsonl`, `.json`, `.csv` or `.parquet` file (the text ones may be `.gz`) into
rows that remember where they came from ("line 3"). `parse_pairs` turns rows of one format into
`PreferencePair` records:

- `standard`: string prompt/chosen/rejected, optional score_chosen/score_rejected/group;
- `conversational`: chosen/rejected as message lists ([{"role": ..., "content": ...}]), with a prompt
  column, or as full conversations whose shared leading messages are the prompt;
- `transcript`: HH-RLHF strings "\\n\\nHuman: ...\\n\\nAssistant: ..." parsed into messages; the prompt
  is every turn before the final assistant turn, chosen/rejected that final turn.

`auto` decides from the first row. A record that cannot be read (a missing or empty field, a value that
is not text, chosen equal to rejected, a broken JSON line) is a `BadRecord`: with a strict `Origin`
(data.on_bad_record=error, the default for your own files) it stops the run naming the file, the line and
the field; otherwise (data.on_bad_record=skip, the default for the hub sources, `data.hub`) it is skipped,
counted by reason in `Origin.skipped` (and in `Origin.tally`, the caller's count over every origin) and
reported in one warning. A file that is not UTF-8 always stops the run, naming the line to fix.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import math
import re
from collections import Counter
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from contrastlab.data.records import PreferencePair
from contrastlab.errors import UserError

log = logging.getLogger(__name__)

FIELDS = ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "group")
FORMATS = ("auto", "standard", "conversational", "transcript")
KINDS = ("jsonl", "json", "csv", "parquet")
TURN = re.compile(r"\n\n(Human|Assistant):[ \t]?")
ROLES = {"Human": "user", "Assistant": "assistant"}
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


def field_columns(columns: Mapping[str, str] | None, defaults: Columns | None = None) -> dict[str, str | None]:
    """Our field -> the column holding it: `defaults` (by default each field's own name), then data.columns."""
    mapping: dict[str, str | None] = {name: name for name in FIELDS} if defaults is None else dict(defaults)
    for name, column in dict(columns or {}).items():
        mapping[str(name)] = str(column)
    return mapping


def group_key(prompt: Any) -> str:
    """The group of a record with no group column: the prompt text, or a conversation's first user turn."""
    if isinstance(prompt, str):
        return prompt
    users = [message["content"] for message in prompt if message.get("role") == "user"]
    if users:
        return str(users[0])
    return str(prompt[0]["content"]) if prompt else ""


def looks_like_transcript(text: str) -> bool:
    """Whether a string reads as an HH-RLHF transcript ("\\n\\nHuman: ...\\n\\nAssistant: ...")."""
    return bool(re.search(r"(^|\n\n)Human:", text)) and "\n\nAssistant:" in text


def parse_pairs(rows: list[Row], fmt: str, cols: Columns, origin: Origin) -> list[PreferencePair]:
    """Rows of one format (or `auto`) -> PreferencePair records. A bad record (chosen equal to rejected included)
    stops the run when `origin` is strict, else it is skipped and counted (`usable`)."""
    if not rows:
        raise no_records(origin, "preference pairs", "check the file")
    if fmt == "auto":
        fmt = detect_format_of(rows, cols, origin)
    if fmt not in PARSERS:
        raise UserError(f"data.format={fmt} is not a known format; choose one of {', '.join(FORMATS)}")
    parse = PARSERS[fmt]
    read = len(rows) + sum(origin.skipped.values())  # the rows, and the lines skipped as they were read
    pairs = []
    for row in rows:
        try:
            pair = parse(row, cols, origin)
            if pair.chosen == pair.rejected:
                raise _bad(origin, row, "chosen equals rejected", "give two different completions, or drop the "
                           "record", "chosen equals rejected")
        except BadRecord as err:
            origin.skip(err)
            continue
        pairs.append(pair)
    return usable(pairs, read, origin, "preference pairs", "check data.format and data.columns")


def detect_format_of(rows: list[Row], cols: Columns, origin: Origin) -> str:
    """The format of a file, from its first row; when bad records are skipped, from the first row that tells."""
    try:
        return detect_format(rows[0], cols, origin)
    except UserError as first:
        if origin.strict:
            raise
        for row in rows[1:]:
            try:
                return detect_format(row, cols, origin)
            except UserError:
                continue
        raise first


def detect_format(row: Row, cols: Columns, origin: Origin) -> str:
    """The format of a file, from its first row."""
    chosen = _value(row, "chosen", cols, origin, required=True)
    if isinstance(chosen, list):
        return "conversational"
    if _value(row, "prompt", cols, origin, required=False) is not None:
        return "standard"
    if isinstance(chosen, str) and looks_like_transcript(chosen):
        return "transcript"
    raise UserError(
        f'{origin.name} {row.where}: no "{cols.get("prompt") or "prompt"}" column, and chosen is neither a message '
        'list nor a "Human: ... Assistant: ..." transcript; map the prompt with +data.columns.prompt=COLUMN, '
        "or set data.format"
    )


def _value(row: Row, field: str, cols: Columns, origin: Origin, required: bool) -> Any:
    column = cols.get(field)
    if column is not None and column in row.values:
        value = row.values[column]
        return None if isinstance(value, float) and math.isnan(value) else value
    if not required:
        return None
    raise missing_field(row, field, column, origin)


def missing_field(row: Row, field: str, column: str | None, origin: Origin) -> BadRecord:
    """The BadRecord for a row without the column of a required field, naming the columns it has and the fix."""
    have = ", ".join(list(row.values)[:10])
    if column == field or column is None:
        fix = f"map it with +data.columns.{field}=COLUMN, or give every record a {field}"
    else:
        fix = f"data.columns.{field}={column} names a column it lacks; fix it with data.columns.{field}=COLUMN"
    return BadRecord(f'{origin.name} {row.where}: no "{column or field}" field for {field} (it has: {have}); {fix}',
                     f"missing {field}")


def _bad(origin: Origin, row: Row, problem: str, fix: str, reason: str) -> BadRecord:
    return BadRecord(f"{origin.name} {row.where}: {problem}; {fix}", reason)


def _text(row: Row, field: str, cols: Columns, origin: Origin, allow_empty: bool = False) -> str:
    value = _value(row, field, cols, origin, required=True)
    if isinstance(value, list):
        raise _bad(origin, row, f"{field} is a message list, but data.format=standard takes strings",
                   "use data.format=conversational (or auto)", f"{field} not text")
    if value is None:
        raise _bad(origin, row, f"{field} is empty (null)", f"give every record a string {field}", f"empty {field}")
    if not isinstance(value, str):
        raise _bad(origin, row, f"{field} is {value!r:.40} ({type(value).__name__}), not text",
                   f"give every record a string {field}", f"{field} not text")
    if not allow_empty and not value.strip():
        raise _bad(origin, row, f"{field} is empty", f"give every record a non-empty {field}, or drop the record",
                   f"empty {field}")
    return value


def _score(row: Row, field: str, cols: Columns, origin: Origin) -> float | None:
    value = _value(row, field, cols, origin, required=False)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(origin, row, f"{field} is {value!r}, not a number", f"give {field} as a number, or leave it empty",
                   f"{field} not a number")


def _pair(row: Row, cols: Columns, origin: Origin, prompt: Any, chosen: Any, rejected: Any) -> PreferencePair:
    group = _value(row, "group", cols, origin, required=False)
    return PreferencePair(
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        score_chosen=_score(row, "score_chosen", cols, origin),
        score_rejected=_score(row, "score_rejected", cols, origin),
        group=group_key(prompt) if group is None or group == "" else str(group),
    )


def parse_standard(row: Row, cols: Columns, origin: Origin) -> PreferencePair:
    """String prompt, chosen and rejected."""
    prompt = _text(row, "prompt", cols, origin, allow_empty=True)
    return _pair(row, cols, origin, prompt, _text(row, "chosen", cols, origin), _text(row, "rejected", cols, origin))


def _messages(row: Row, field: str, value: Any, origin: Origin) -> list[dict]:
    if isinstance(value, str):
        raise _bad(origin, row, f"{field} is a string, but data.format=conversational takes message lists "
                   "([{\"role\": ..., \"content\": ...}])", "use data.format=standard or transcript (or auto)",
                   f"{field} not a message list")
    if not isinstance(value, list) or not value:
        raise _bad(origin, row, f"{field} is {'an empty list' if value == [] else 'not a message list'}",
                   f"give {field} as a non-empty list of messages", f"{field} not a message list")
    messages = []
    for message in value:
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise _bad(origin, row, f"{field} holds {message!r}, not a message",
                       'give each message as {"role": ..., "content": ...}', f"{field} not a message list")
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def parse_conversational(row: Row, cols: Columns, origin: Origin) -> PreferencePair:
    """Message lists; the prompt is the prompt column, or the messages chosen and rejected share."""
    chosen = _messages(row, "chosen", _value(row, "chosen", cols, origin, required=True), origin)
    rejected = _messages(row, "rejected", _value(row, "rejected", cols, origin, required=True), origin)
    prompt: Any = _value(row, "prompt", cols, origin, required=False)
    if prompt is not None:
        if isinstance(prompt, str):
            lead = [{"role": "user", "content": prompt}]
        else:
            lead = _messages(row, "prompt", prompt, origin)
        if chosen[: len(lead)] == lead and rejected[: len(lead)] == lead:
            prompt, chosen, rejected = lead, chosen[len(lead):], rejected[len(lead):]
        elif not isinstance(prompt, str):
            prompt = lead
    else:
        shared = 0
        while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
            shared += 1
        if shared == 0:
            raise _bad(origin, row, "chosen and rejected share no leading messages, so there is no prompt",
                       "add a prompt column (+data.columns.prompt=COLUMN)", "no shared prompt")
        prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
    if chosen == rejected:
        return _pair(row, cols, origin, prompt, chosen, rejected)  # a bad record: parse_pairs says so
    for field, value in (("chosen", chosen), ("rejected", rejected)):
        if not value:
            raise _bad(origin, row, f"{field} has no messages after the prompt", f"give {field} a reply to the prompt",
                       f"no {field} reply")
    return _pair(row, cols, origin, prompt, chosen, rejected)


def parse_transcript(text: str) -> list[dict] | None:
    """An HH-RLHF transcript -> messages (user/assistant), or None if it does not start with a turn."""
    text = text if text.startswith("\n\n") else "\n\n" + text.lstrip()
    parts = TURN.split(text)
    if parts[0].strip() or len(parts) < 3:
        return None
    return [{"role": ROLES[parts[i]], "content": parts[i + 1].strip()} for i in range(1, len(parts), 2)]


def _transcript(row: Row, field: str, cols: Columns, origin: Origin) -> tuple[list[dict], dict]:
    value = _value(row, field, cols, origin, required=True)
    if not isinstance(value, str):
        raise _bad(origin, row, f"{field} is not a transcript string",
                   "use data.format=conversational for message lists", f"{field} not a transcript")
    messages = parse_transcript(value)
    if messages is None:
        raise _bad(origin, row, f'{field} is not a "\\n\\nHuman: ...\\n\\nAssistant: ..." transcript',
                   "use data.format=standard with a prompt column for plain strings", f"{field} not a transcript")
    last = messages[-1]
    if last["role"] != "assistant" or len(messages) < 2:
        raise _bad(origin, row, f"{field} does not end with an Assistant: turn after a Human: turn",
                   "end each transcript with the reply being compared", f"{field} without a final reply")
    if not last["content"]:
        raise _bad(origin, row, f"the final Assistant: turn of {field} is empty", "give it a reply, or drop the record",
                   f"empty {field} reply")
    return messages[:-1], last


def parse_transcript_row(row: Row, cols: Columns, origin: Origin) -> PreferencePair:
    """HH-RLHF transcripts: prompt = turns before the final assistant turn, chosen/rejected = [that turn]."""
    prompt, chosen = _transcript(row, "chosen", cols, origin)
    other, rejected = _transcript(row, "rejected", cols, origin)
    if other != prompt:
        raise _bad(origin, row, "chosen and rejected differ before their final Assistant: turn",
                   "make both transcripts the same conversation up to the compared reply",
                   "transcripts differ before the reply")
    return _pair(row, cols, origin, prompt, [chosen], [rejected])


PARSERS: dict[str, Callable[[Row, Columns, Origin], PreferencePair]] = {
    "standard": parse_standard,
    "conversational": parse_conversational,
    "transcript": parse_transcript_row,
}
