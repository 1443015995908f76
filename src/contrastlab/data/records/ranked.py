"""Ranked: a prompt with several completions and one score each (higher is better), as LiPO consumes.

Sequences: the completions (a batch pads shorter lists). Batch extras: `scores`. Rows: {"prompt", "completions",
"scores"}. In a file: `prompt`, `completions` (a list of at least two texts) and `scores` (one number each).
Conversions: a list gives every pair (i, j) with score_i > score_j (ties give none); a pair gives a two-item list
scored by its scores when it has both, else [1.0, 0.0].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from contrastlab.data.cells import bad, cell, group_cell, number, parse_rows, text_cell
from contrastlab.data.records.base import Record, converts, messages
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.errors import UserError

LISTS = "a .jsonl, .json or .parquet file (a CSV cell is text)"


@dataclass
class Ranked(Record):
    """A prompt with several completions and one score each (higher is better)."""

    noun: ClassVar[str] = "ranked lists"
    fields: ClassVar[tuple[str, ...]] = ("prompt", "completions", "scores", "group")
    file_priority: ClassVar[int] = 50
    file_hint: ClassVar[str] = "data=jsonl with prompt, completions and scores"

    prompt: Any
    completions: list = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    group: str = ""

    def sequences(self) -> list:
        return [(self.prompt, c) for c in self.completions]

    @classmethod
    def extras(cls, records: list) -> list[dict]:
        return [{"scores": [float(s) for s in r.scores]} for r in records]

    def row(self, conversational: bool) -> dict:
        return {"prompt": messages(self.prompt, "user", conversational),
                "completions": [messages(c, "assistant", conversational) for c in self.completions],
                "scores": [float(s) for s in self.scores]}  # fmt: skip

    @classmethod
    def file_match(cls, has, column) -> bool:
        return has("completions")

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _ranked_of, cols, origin, cls.noun)


def _ranked_of(row, cols, origin) -> Ranked:
    """A row with `prompt`, `completions` (strings) and `scores` (numbers), one score per completion."""
    prompt = text_cell(row, "prompt", cols, origin)
    completions = cell(row, "completions", cols, origin, required=True)
    if not isinstance(completions, list) or not all(isinstance(c, str) and c.strip() for c in completions):
        raise bad(origin, row, "completions is not a list of non-empty strings",
                  f"give completions as a list of texts in {LISTS}", "completions not a list of texts")
    if len(completions) < 2:
        raise bad(origin, row, f"completions holds {len(completions)} text, so there is nothing to rank",
                  "give at least two completions, or drop the record", "fewer than two completions")
    scores = cell(row, "scores", cols, origin, required=True)
    values = [number(score) for score in scores] if isinstance(scores, list) else [None]
    if None in values:
        raise bad(origin, row, f"scores is {scores!r}, not a list of numbers",
                  f"give scores as a list of numbers (higher is better) in {LISTS}", "scores not numbers")
    if len(values) != len(completions):
        raise bad(origin, row, f"{len(completions)} completions but {len(values)} scores",
                  "give one score per completion, in the same order", "scores and completions differ in length")
    return Ranked(prompt=prompt, completions=list(completions), scores=values,
                  group=group_cell(row, cols, origin, prompt))


@converts(Ranked, PreferencePair)
def ranked_to_pairs(records: list) -> list:
    """Each ranked list -> a PreferencePair for every (i, j) with score_i > score_j, scores kept."""
    out = []
    for index, ranked in enumerate(records):
        if len(ranked.completions) != len(ranked.scores):
            raise UserError(f"ranked record {index} has {len(ranked.completions)} completions but {len(ranked.scores)} "
                            "scores; give one score per completion")
        for i, (better, high) in enumerate(zip(ranked.completions, ranked.scores)):
            for j, (worse, low) in enumerate(zip(ranked.completions, ranked.scores)):
                if i != j and high > low:
                    out.append(PreferencePair(prompt=ranked.prompt, chosen=better, rejected=worse,
                                              score_chosen=float(high), score_rejected=float(low), group=ranked.group))
    return out


@converts(PreferencePair, Ranked)
def pairs_to_ranked(records: list) -> list:
    """Each pair -> Ranked([chosen, rejected]) scored by the pair's scores when it has both, else [1.0, 0.0]."""
    return [Ranked(prompt=pair.prompt, completions=[pair.chosen, pair.rejected],
                   scores=[float(pair.score_chosen), float(pair.score_rejected)] if pair.scored else [1.0, 0.0],
                   group=pair.group) for pair in records]  # fmt: skip
