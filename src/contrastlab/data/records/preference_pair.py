"""PreferencePair: a prompt with a preferred (`chosen`) and a dispreferred (`rejected`) completion.

Consumed by the DPO family, ORPO, CPO, SimPO, the reward model, ODPO, Cringe. Sequences: chosen, then rejected.
Batch extras: `scores` (score_chosen, score_rejected) when every pair has both. Rows: {"prompt", "chosen",
"rejected"}, plus "margin" = score_chosen - score_rejected when every pair has both scores. In a file: `chosen` and
`rejected` (strings, message lists or HH-RLHF transcripts: `data.pair_formats`), optionally a `prompt`, scores and
a group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from contrastlab.data.records.base import Record, messages
from contrastlab.errors import UserError


@dataclass
class PreferencePair(Record):
    """A prompt with a preferred (`chosen`) and a dispreferred (`rejected`) completion."""

    noun: ClassVar[str] = "preference pairs"
    fields: ClassVar[tuple[str, ...]] = ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "group")
    file_priority: ClassVar[int] = 30
    file_hint: ClassVar[str] = "data=jsonl with prompt, chosen and rejected columns"
    pairwise: ClassVar[bool] = True

    prompt: Any
    chosen: Any
    rejected: Any
    score_chosen: float | None = None  # optional scalar rating of `chosen`
    score_rejected: float | None = None  # optional scalar rating of `rejected`
    group: str = ""

    @property
    def scored(self) -> bool:
        return self.score_chosen is not None and self.score_rejected is not None

    def sequences(self) -> list:
        return [(self.prompt, self.chosen), (self.prompt, self.rejected)]

    @classmethod
    def extras(cls, records: list) -> list[dict]:
        if records and all(r.scored for r in records):
            return [{"scores": [float(r.score_chosen), float(r.score_rejected)]} for r in records]
        return [{} for _ in records]

    @classmethod
    def preference_log_odds(cls, records: list) -> list[float] | None:
        """Bradley-Terry on the scores: log(a / (1 - a)) = score_chosen - score_rejected, when every pair has both."""
        if records and all(r.scored for r in records):
            return [float(r.score_chosen) - float(r.score_rejected) for r in records]
        return None

    def row(self, conversational: bool) -> dict:
        return {"prompt": messages(self.prompt, "user", conversational),
                "chosen": messages(self.chosen, "assistant", conversational),
                "rejected": messages(self.rejected, "assistant", conversational)}  # fmt: skip

    @classmethod
    def rows(cls, records: list, conversational: bool) -> list[dict]:
        rows = [r.row(conversational) for r in records]
        if records and all(r.scored for r in records):
            for row, r in zip(rows, records):
                row["margin"] = float(r.score_chosen) - float(r.score_rejected)
        return rows

    @classmethod
    def by_difficulty(cls, records: list, data_name: str = "") -> list:
        """Curry-DPO's order: the pairs sorted by score_chosen - score_rejected, largest gap (easiest) first; ties
        keep their order. Pattnaik et al. 2024, https://arxiv.org/abs/2403.07230 (with a sequential sampler)."""
        for index, pair in enumerate(records):
            if not pair.scored:
                raise UserError(f"train.curriculum orders pairs by score gap but pair {index} of data="
                                f"{data_name or '?'} has no scores; use scored data (data=rt_ranked, "
                                "data=ultrafeedback) or drop train.curriculum")
        return sorted(records, key=lambda p: -(float(p.score_chosen) - float(p.score_rejected)))

    @classmethod
    def file_match(cls, has, column) -> bool:
        return has("chosen") or has("rejected")

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        from contrastlab.data.pair_formats import parse_pairs

        return [cls(**fields) for fields in parse_pairs(rows, fmt, cols, origin)]
