"""The record formats of preference files and hub splits: rows (`data.files.read_rows`) into the fields of a
preference pair (prompt, chosen, rejected, score_chosen, score_rejected, group), which `PreferencePair.parse`
(`data.records.preference_pair`) makes records of.

- `standard`: string prompt/chosen/rejected, optional score_chosen/score_rejected/group;
- `conversational`: chosen/rejected as message lists ([{"role": ..., "content": ...}]), with a prompt
  column, or as full conversations whose shared leading messages are the prompt;
- `transcript`: HH-RLHF strings "\\n\\nHuman: ...\\n\\nAssistant: ..." parsed into messages; the prompt
  is every turn before the final assistant turn, chosen/rejected that final turn.

`auto` decides from the first row. A row that the format cannot read is a `BadRecord` of its `Origin`
(`data.files`): raised, or skipped and counted.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

from contrastlab.data.cells import bad
from contrastlab.data.files import BadRecord, Columns, Origin, Row, missing_field, no_records, usable
from contrastlab.errors import UserError

FIELDS = ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "group")
FORMATS = ("auto", "standard", "conversational", "transcript")
TURN = re.compile(r"\n\n(Human|Assistant):[ \t]?")
ROLES = {"Human": "user", "Assistant": "assistant"}


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


def parse_pairs(rows: list[Row], fmt: str, cols: Columns, origin: Origin) -> list[dict]:
    """Rows of one format (or `auto`) -> the fields of each pair. A bad record (chosen equal to rejected included)
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
            if pair["chosen"] == pair["rejected"]:
                raise bad(origin, row, "chosen equals rejected", "give two different completions, or drop the "
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


def _text(row: Row, field: str, cols: Columns, origin: Origin, allow_empty: bool = False) -> str:
    value = _value(row, field, cols, origin, required=True)
    if isinstance(value, list):
        raise bad(origin, row, f"{field} is a message list, but data.format=standard takes strings",
                   "use data.format=conversational (or auto)", f"{field} not text")
    if value is None:
        raise bad(origin, row, f"{field} is empty (null)", f"give every record a string {field}", f"empty {field}")
    if not isinstance(value, str):
        raise bad(origin, row, f"{field} is {value!r:.40} ({type(value).__name__}), not text",
                   f"give every record a string {field}", f"{field} not text")
    if not allow_empty and not value.strip():
        raise bad(origin, row, f"{field} is empty", f"give every record a non-empty {field}, or drop the record",
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
        raise bad(origin, row, f"{field} is {value!r}, not a number", f"give {field} as a number, or leave it empty",
                   f"{field} not a number")


def _pair(row: Row, cols: Columns, origin: Origin, prompt: Any, chosen: Any, rejected: Any) -> dict:
    group = _value(row, "group", cols, origin, required=False)
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "score_chosen": _score(row, "score_chosen", cols, origin),
        "score_rejected": _score(row, "score_rejected", cols, origin),
        "group": group_key(prompt) if group is None or group == "" else str(group),
    }


def parse_standard(row: Row, cols: Columns, origin: Origin) -> dict:
    """String prompt, chosen and rejected."""
    prompt = _text(row, "prompt", cols, origin, allow_empty=True)
    return _pair(row, cols, origin, prompt, _text(row, "chosen", cols, origin), _text(row, "rejected", cols, origin))


def _messages(row: Row, field: str, value: Any, origin: Origin) -> list[dict]:
    if isinstance(value, str):
        raise bad(origin, row, f"{field} is a string, but data.format=conversational takes message lists "
                   "([{\"role\": ..., \"content\": ...}])", "use data.format=standard or transcript (or auto)",
                   f"{field} not a message list")
    if not isinstance(value, list) or not value:
        raise bad(origin, row, f"{field} is {'an empty list' if value == [] else 'not a message list'}",
                   f"give {field} as a non-empty list of messages", f"{field} not a message list")
    messages = []
    for message in value:
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise bad(origin, row, f"{field} holds {message!r}, not a message",
                       'give each message as {"role": ..., "content": ...}', f"{field} not a message list")
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def parse_conversational(row: Row, cols: Columns, origin: Origin) -> dict:
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
            raise bad(origin, row, "chosen and rejected share no leading messages, so there is no prompt",
                       "add a prompt column (+data.columns.prompt=COLUMN)", "no shared prompt")
        prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
    if chosen == rejected:
        return _pair(row, cols, origin, prompt, chosen, rejected)  # a bad record: parse_pairs says so
    for field, value in (("chosen", chosen), ("rejected", rejected)):
        if not value:
            raise bad(origin, row, f"{field} has no messages after the prompt", f"give {field} a reply to the prompt",
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
        raise bad(origin, row, f"{field} is not a transcript string",
                   "use data.format=conversational for message lists", f"{field} not a transcript")
    messages = parse_transcript(value)
    if messages is None:
        raise bad(origin, row, f'{field} is not a "\\n\\nHuman: ...\\n\\nAssistant: ..." transcript',
                   "use data.format=standard with a prompt column for plain strings", f"{field} not a transcript")
    last = messages[-1]
    if last["role"] != "assistant" or len(messages) < 2:
        raise bad(origin, row, f"{field} does not end with an Assistant: turn after a Human: turn",
                   "end each transcript with the reply being compared", f"{field} without a final reply")
    if not last["content"]:
        raise bad(origin, row, f"the final Assistant: turn of {field} is empty", "give it a reply, or drop the record",
                   f"empty {field} reply")
    return messages[:-1], last


def parse_transcript_row(row: Row, cols: Columns, origin: Origin) -> dict:
    """HH-RLHF transcripts: prompt = turns before the final assistant turn, chosen/rejected = [that turn]."""
    prompt, chosen = _transcript(row, "chosen", cols, origin)
    other, rejected = _transcript(row, "rejected", cols, origin)
    if other != prompt:
        raise bad(origin, row, "chosen and rejected differ before their final Assistant: turn",
                   "make both transcripts the same conversation up to the compared reply",
                   "transcripts differ before the reply")
    return _pair(row, cols, origin, prompt, [chosen], [rejected])


PARSERS: dict[str, Callable[[Row, Columns, Origin], dict]] = {
    "standard": parse_standard,
    "conversational": parse_conversational,
    "transcript": parse_transcript_row,
}
