"""SentencePair: an anchor with a positive (a paraphrase, an entailment, a second view) and an optional hard
negative, as InfoNCE, supervised SimCSE and DCL consume. Rows: {"anchor", "positive"}, plus "negative" when every
pair has one (when only some have one, the negatives are dropped with a warning: the pairs then train with in-batch
negatives only). In a file: `anchor` and `positive` columns, optionally `negative`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from contrastlab.data.cells import group_cell, optional_text, parse_rows, text_cell
from contrastlab.data.records.base import Record, one_without_the_other

log = logging.getLogger(__name__)


@dataclass
class SentencePair(Record):
    """An anchor with a positive (a paraphrase, an entailment, a second view) and an optional hard negative."""

    noun: ClassVar[str] = "sentence pairs"
    fields: ClassVar[tuple[str, ...]] = ("anchor", "positive", "negative", "group")
    file_priority: ClassVar[int] = 20
    file_hint: ClassVar[str] = "data=jsonl with text or anchor/positive columns"

    anchor: str
    positive: str
    negative: str | None = None  # a hard negative (an NLI contradiction, say); None = in-batch negatives only
    group: str = ""

    def texts(self) -> list[str]:
        return [t for t in (self.anchor, self.positive, self.negative) if isinstance(t, str)]

    @classmethod
    def rows(cls, records: list, conversational: bool) -> list[dict]:
        with_negative = all(r.negative is not None for r in records)
        if not with_negative and any(r.negative is not None for r in records):
            count = sum(r.negative is not None for r in records)
            log.warning("%d of %d sentence pairs have a hard negative: dropping them all (a column must be in every "
                        "row or none); the pairs train with in-batch negatives only", count, len(records))
        rows = []
        for r in records:
            row = {"anchor": r.anchor, "positive": r.positive}
            if with_negative:
                row["negative"] = r.negative
            rows.append(row)
        return rows

    @classmethod
    def file_match(cls, has, column) -> bool | str:
        return one_without_the_other(has, column, "anchor", "positive")

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _pair_of, cols, origin, cls.noun)


def _pair_of(row, cols, origin) -> SentencePair:
    anchor, positive = text_cell(row, "anchor", cols, origin), text_cell(row, "positive", cols, origin)
    return SentencePair(anchor=anchor, positive=positive, negative=optional_text(row, "negative", cols, origin),
                        group=group_cell(row, cols, origin, anchor))
