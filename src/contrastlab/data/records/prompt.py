"""Prompt: a prompt alone, what on-policy objectives (grpo, rloo, online_dpo, iterative_dpo) consume: the policy
writes the completions and a reward scores them.

No sequences of its own (nothing to score until the policy writes); `prompts()` is the prompt. Rows: {"prompt"}
(TRL's prompt-only form). In a file: a `prompt` column and none of completion, chosen, rejected or label. Every
prompted type converts: a preference pair (plain, scored, multi-attribute, joint), a ranked list, an unpaired or
forget example and a demonstration give their prompts, each distinct prompt once, its group kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from contrastlab.data.cells import bad, cell, group_cell, parse_rows
from contrastlab.data.records.base import Record, converts, messages
from contrastlab.data.records.demonstration import Demonstration
from contrastlab.data.records.forget import Forget
from contrastlab.data.records.joint_pair import JointPair
from contrastlab.data.records.multi_attribute import MultiAttribute
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.ranked import Ranked
from contrastlab.data.records.scored_pair import ScoredPair
from contrastlab.data.records.unpaired import Unpaired

_OTHER_COLUMNS = ("completion", "chosen", "rejected", "label", "completions")


@dataclass
class Prompt(Record):
    """A prompt for the policy to complete."""

    noun: ClassVar[str] = "prompts"
    fields: ClassVar[tuple[str, ...]] = ("prompt", "group")
    file_priority: ClassVar[int] = 1
    file_hint: ClassVar[str] = "data=jsonl with a prompt column"

    prompt: Any
    group: str = ""

    def prompts(self) -> list:
        return [self.prompt]

    def row(self, conversational: bool) -> dict:
        return {"prompt": messages(self.prompt, "user", conversational)}

    @classmethod
    def file_match(cls, has, column) -> bool | str:
        return has("prompt") and not any(has(other) for other in _OTHER_COLUMNS)

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _prompt_of, cols, origin, cls.noun)


def _prompt_of(row, cols, origin) -> Prompt:
    value = cell(row, "prompt", cols, origin, required=True)
    text = isinstance(value, str) and value.strip()
    chat = isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m and "content" in m
                                                     for m in value)  # fmt: skip
    if not (text or chat):
        raise bad(origin, row, f"prompt is {value!r:.40}, not text or a list of messages",
                  "give every record a non-empty prompt", "bad prompt")
    return Prompt(prompt=value, group=group_cell(row, cols, origin, repr(value)))


def distinct_prompts(records: list) -> list:
    """Each distinct prompt of the records once (first seen first), with its record's group."""
    seen, out = set(), []
    for record in records:
        for prompt in record.prompts():
            key = repr(prompt)
            if key not in seen:
                seen.add(key)
                out.append(Prompt(prompt=prompt, group=record.group))
    return out


for _source in (PreferencePair, ScoredPair, MultiAttribute, JointPair, Ranked, Unpaired, Forget, Demonstration):
    converts(_source, Prompt)(distinct_prompts)
