"""Forget: a prompt and a completion to unlearn (split "forget") or to keep (split "retain"), as NPO consumes.

A training example is a forget record, followed by a retain record (cycled in a seeded order) when the objective
trains on a retain set too. The split differs from every other type's: every forget record trains and every one is
evaluated (unlearning is measured on the forget set itself); only the retain records are held out by group and
sampled (`Forget.split`). Rows: {"prompt", "completion", "split"}. In a file: `prompt`, `completion` and
`split` ("forget" or "retain").
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from contrastlab.data.cells import bad, cell, group_cell, parse_rows, text_cell
from contrastlab.data.records.base import Example, Record, messages
from contrastlab.data.splits import hold_out, subsample
from contrastlab.errors import UserError

SPLITS = ("forget", "retain")


@dataclass
class Forget(Record):
    """A prompt and a completion to unlearn (`split="forget"`) or to keep (`split="retain"`)."""

    noun: ClassVar[str] = "records to forget or retain"
    fields: ClassVar[tuple[str, ...]] = ("prompt", "completion", "split", "group")
    file_priority: ClassVar[int] = 60
    file_hint: ClassVar[str] = "data=jsonl with prompt, completion and split = forget|retain columns"

    prompt: Any
    completion: Any
    split: str  # "forget" or "retain" (SPLITS)
    group: str = ""

    @property
    def forgotten(self) -> bool:
        return self.split == SPLITS[0]

    def sequences(self) -> list:
        return [(self.prompt, self.completion)]

    @classmethod
    def examples(cls, records: list, seed: int = 0, retain: bool = False) -> list[Example]:
        """One example per forget record, with a retain record as its second sequence when `retain` and there are
        any (cycled in a seeded order)."""
        forget = [r for r in records if r.forgotten]
        kept = [r for r in records if not r.forgotten] if retain else []
        order = list(range(len(kept)))
        random.Random(seed).shuffle(order)
        out = []
        for i, f in enumerate(forget):
            sequences = f.sequences()
            if kept:
                sequences = sequences + kept[order[i % len(order)]].sequences()
            out.append(Example(sequences))
        return out

    def row(self, conversational: bool) -> dict:
        return {"prompt": messages(self.prompt, "user", conversational),
                "completion": messages(self.completion, "assistant", conversational), "split": self.split}

    @classmethod
    def file_match(cls, has, column) -> bool | str:
        # a completion with no split column is a demonstration (records.demonstration), not a Forget record
        return has("completion") and has("split")

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _forget_of, cols, origin, cls.noun)

    @classmethod
    def split(cls, records: list, fraction: float, seed: int, data_name: str, max_train: int | None,
              max_eval: int | None) -> tuple[list, list]:
        """train = every forget record + a seeded sample of the retain groups not held out; held out = every forget
        record, then the held-out retain records (at most `max_eval`)."""
        forget = [record for record in records if record.forgotten]
        retain = [record for record in records if not record.forgotten]
        if not forget:
            raise UserError(f'data={data_name} has no forget records (split="forget"), so there is nothing to '
                            'unlearn; mark the records to unlearn split="forget"')
        retain_train, retain_eval = hold_out(retain, fraction, seed, data_name) if retain else ([], [])
        retain_train = subsample(retain_train, max_train, seed, "train")
        retain_eval = subsample(retain_eval, max_eval, seed, "eval")
        return forget + retain_train, forget + retain_eval


def _forget_of(row, cols, origin) -> Forget:
    """A row with `prompt`, `completion` and `split` ("forget" or "retain")."""
    prompt, completion = text_cell(row, "prompt", cols, origin), text_cell(row, "completion", cols, origin)
    split = cell(row, "split", cols, origin, required=True)
    if split not in SPLITS:
        raise bad(origin, row, f"split is {split!r}", 'give every record split "forget" (a completion to unlearn) '
                  'or "retain" (one to keep)', "split not forget or retain")
    return Forget(prompt=prompt, completion=completion, split=split, group=group_cell(row, cols, origin, prompt))
