"""JointPair: a chosen prompt and completion against a rejected prompt and completion, as JPO consumes: the two
answers need not share a prompt ("Comparing Bad Apples to Good Oranges", Bansal et al. 2024, arXiv:2404.00530).

Sequences: (chosen prompt, chosen), then (rejected prompt, rejected); each completion starts where its own prompt
ends (one prompt shared by both starts them together, as a preference pair's). Rows: {"chosen_prompt", "chosen",
"rejected_prompt", "rejected"}. In a file: `chosen_prompt`, `chosen`, `rejected_prompt` and `rejected` columns
(strings), optionally a `group`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from contrastlab.data.cells import bad, group_cell, parse_rows, text_cell
from contrastlab.data.records.base import Record, messages, one_without_the_other


@dataclass
class JointPair(Record):
    """A preferred (prompt, completion) and a dispreferred (prompt, completion), prompts possibly different."""

    noun: ClassVar[str] = "joint preference pairs"
    fields: ClassVar[tuple[str, ...]] = ("chosen_prompt", "chosen", "rejected_prompt", "rejected", "group")
    file_priority: ClassVar[int] = 35  # before preference pairs: it has their chosen and rejected columns too
    file_hint: ClassVar[str] = "data=jsonl with chosen_prompt, chosen, rejected_prompt and rejected columns"
    pairwise: ClassVar[bool] = True

    chosen_prompt: Any
    chosen: Any
    rejected_prompt: Any
    rejected: Any
    group: str = ""

    def sequences(self) -> list:
        return [(self.chosen_prompt, self.chosen), (self.rejected_prompt, self.rejected)]

    def row(self, conversational: bool) -> dict:
        return {"chosen_prompt": messages(self.chosen_prompt, "user", conversational),
                "chosen": messages(self.chosen, "assistant", conversational),
                "rejected_prompt": messages(self.rejected_prompt, "user", conversational),
                "rejected": messages(self.rejected, "assistant", conversational)}  # fmt: skip

    @classmethod
    def file_match(cls, has, column) -> bool | str:
        return one_without_the_other(has, column, "chosen_prompt", "rejected_prompt",
                                     "joint pairs need a prompt for each side: ")

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _joint_of, cols, origin, cls.noun)


def _joint_of(row, cols, origin) -> JointPair:
    chosen_prompt, chosen = text_cell(row, "chosen_prompt", cols, origin), text_cell(row, "chosen", cols, origin)
    rejected_prompt = text_cell(row, "rejected_prompt", cols, origin)
    rejected = text_cell(row, "rejected", cols, origin)
    if (chosen_prompt, chosen) == (rejected_prompt, rejected):
        raise bad(origin, row, "the chosen prompt and completion equal the rejected ones",
                  "give two different answers, or drop the record", "chosen equals rejected")
    return JointPair(chosen_prompt=chosen_prompt, chosen=chosen, rejected_prompt=rejected_prompt, rejected=rejected,
                     group=group_cell(row, cols, origin, f"{chosen_prompt} / {rejected_prompt}"))
