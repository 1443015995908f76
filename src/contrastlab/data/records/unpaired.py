"""Unpaired: a prompt with one completion labelled desirable (True) or undesirable (False), as KTO and BCO consume.

Sequences: the completion. Batch extras: `label` (1.0 desirable, 0.0 undesirable). Rows: {"prompt", "completion",
"label"}. A preference pair converts soundly: its chosen completion is desirable, its rejected one undesirable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from contrastlab.data.records.base import Record, converts, messages
from contrastlab.data.records.preference_pair import PreferencePair


@dataclass
class Unpaired(Record):
    """A prompt with one completion labelled desirable (`True`) or undesirable (`False`)."""

    noun: ClassVar[str] = "labelled completions"

    prompt: Any
    completion: Any
    label: bool
    group: str = ""

    def sequences(self) -> list:
        return [(self.prompt, self.completion)]

    @classmethod
    def extras(cls, records: list) -> list[dict]:
        return [{"label": [1.0 if r.label else 0.0]} for r in records]

    def row(self, conversational: bool) -> dict:
        return {"prompt": messages(self.prompt, "user", conversational),
                "completion": messages(self.completion, "assistant", conversational), "label": bool(self.label)}


@converts(PreferencePair, Unpaired)
def pairs_to_unpaired(records: list) -> list:
    """Each pair -> a desirable and an undesirable Unpaired example, in that order, group kept."""
    out = []
    for pair in records:
        out.append(Unpaired(prompt=pair.prompt, completion=pair.chosen, label=True, group=pair.group))
        out.append(Unpaired(prompt=pair.prompt, completion=pair.rejected, label=False, group=pair.group))
    return out
