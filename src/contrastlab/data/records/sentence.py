"""Sentence: one text, as unsupervised SimCSE consumes; it converts to a SentencePair with itself (the two dropout
views of one text are the positive pair, Gao et al. 2021). In a file: a `text` column, or a .txt file, one sentence a
line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from contrastlab.data.cells import group_cell, parse_rows, text_cell
from contrastlab.data.records.base import Record, converts
from contrastlab.data.records.sentence_pair import SentencePair


@dataclass
class Sentence(Record):
    """One text; unsupervised contrastive objectives pair it with itself (two dropout views, SimCSE)."""

    noun: ClassVar[str] = "sentences"
    fields: ClassVar[tuple[str, ...]] = ("text", "group")
    file_priority: ClassVar[int] = 10
    file_hint: ClassVar[str] = "data=jsonl with a text column"

    text: str
    group: str = ""

    def texts(self) -> list[str]:
        return [self.text]

    def row(self, conversational: bool) -> dict:
        return {"text": self.text}

    @classmethod
    def file_match(cls, has, column) -> bool:
        return has("text")

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _sentence_of, cols, origin, cls.noun)


def _sentence_of(row, cols, origin) -> Sentence:
    text = text_cell(row, "text", cols, origin)
    return Sentence(text=text, group=group_cell(row, cols, origin, text))


@converts(Sentence, SentencePair)
def sentences_to_pairs(records: list) -> list:
    """Each sentence -> SentencePair(anchor=text, positive=text), group kept: two dropout views of one text."""
    return [SentencePair(anchor=s.text, positive=s.text, negative=None, group=s.group) for s in records]
