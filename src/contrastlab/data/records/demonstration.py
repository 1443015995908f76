"""Demonstration: a prompt and one completion to imitate, as supervised fine-tuning (`objective=sft`) consumes.

Sequences: the completion. Rows (TRL's prompt-completion form, so SFTTrainer's loss covers the completion alone):
{"prompt", "completion"}. In a file: `prompt` and `completion` columns (strings, or message lists in the
conversational form). A preference pair converts to its chosen completion (the SFT step of the DPO paper's recipe:
supervised fine-tuning on the preferred completions first), a labelled completion to itself when it is desirable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from contrastlab.data.cells import bad, cell, group_cell, parse_rows
from contrastlab.data.records.base import Record, converts, messages
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.unpaired import Unpaired


@dataclass
class Demonstration(Record):
    """A prompt and the completion to learn to write for it."""

    noun: ClassVar[str] = "demonstrations"
    fields: ClassVar[tuple[str, ...]] = ("prompt", "completion", "group")
    file_priority: ClassVar[int] = 5
    file_hint: ClassVar[str] = "data=jsonl with prompt and completion columns"

    prompt: Any
    completion: Any
    group: str = ""

    def sequences(self) -> list:
        return [(self.prompt, self.completion)]

    def row(self, conversational: bool) -> dict:
        return {"prompt": messages(self.prompt, "user", conversational),
                "completion": messages(self.completion, "assistant", conversational)}

    @classmethod
    def file_match(cls, has, column) -> bool | str:
        if not has("completion") or has("label") or has("chosen") or has("rejected"):
            return False
        if not has("prompt"):
            return f'a "{column("completion")}" column but no "{column("prompt")}"; give each demonstration its prompt'
        return True

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _demonstration_of, cols, origin, cls.noun)


def _value(row, field: str, cols, origin) -> Any:
    """A prompt or completion: non-empty text, or a non-empty list of {"role", "content"} messages."""
    value = cell(row, field, cols, origin, required=True)
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m and "content" in m
                                                 for m in value):  # fmt: skip
        return value
    raise bad(origin, row, f"{field} is {value!r:.40}, not text or a list of messages",
              f"give every demonstration a non-empty {field}", f"bad {field}")


def _demonstration_of(row, cols, origin) -> Demonstration:
    prompt, completion = _value(row, "prompt", cols, origin), _value(row, "completion", cols, origin)
    return Demonstration(prompt=prompt, completion=completion, group=group_cell(row, cols, origin, repr(prompt)))


@converts(PreferencePair, Demonstration)
def pairs_to_demonstrations(records: list) -> list:
    """Each pair -> its chosen completion, group kept."""
    return [Demonstration(prompt=p.prompt, completion=p.chosen, group=p.group) for p in records]


@converts(Unpaired, Demonstration)
def desirable_demonstrations(records: list) -> list:
    """Each desirable labelled completion -> a demonstration; undesirable ones are dropped."""
    return [Demonstration(prompt=r.prompt, completion=r.completion, group=r.group) for r in records if r.label]
