"""ScoredPair: two texts and a human similarity score scaled to [0, 1], one item of a similarity benchmark (the
STS-B schema: sentence1, sentence2, score). Not trained on; a score outside [0, 1] always stops the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from contrastlab.data.cells import cell, group_cell, parse_rows, text_cell
from contrastlab.data.files import BadRecord
from contrastlab.data.records.base import Record
from contrastlab.errors import UserError


@dataclass
class ScoredPair(Record):
    """Two texts and a human similarity score scaled to [0, 1]: one item of a similarity benchmark."""

    noun: ClassVar[str] = "scored pairs"
    fields: ClassVar[tuple[str, ...]] = ("text1", "text2", "score", "group")

    text1: str
    text2: str
    score: float  # gold similarity, scaled to [0, 1] (1 = most similar)
    group: str = ""

    def texts(self) -> list[str]:
        return [self.text1, self.text2]

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        return parse_rows(rows, _scored_of, cols, origin, cls.noun)


def _unit_score(row, field: str, cols, origin) -> float:
    value = cell(row, field, cols, origin, required=True)
    try:
        if isinstance(value, bool):
            raise TypeError(field)
        score = float(value)
    except (TypeError, ValueError):
        raise BadRecord(f"{origin.name} {row.where}: {field} is {value!r}, not a number; give every pair a "
                        f"{field} in [0, 1]", f"{field} not a number")
    if not 0.0 <= score <= 1.0:
        raise UserError(f"{origin.name} {row.where}: {field} is {value!r}, outside [0, 1]; give similarity scores "
                        "scaled to [0, 1] (GLUE's STS-B scores 0-5: divide them by 5)")
    return score


def _scored_of(row, cols, origin) -> ScoredPair:
    text1, text2 = text_cell(row, "text1", cols, origin), text_cell(row, "text2", cols, origin)
    return ScoredPair(text1=text1, text2=text2, score=_unit_score(row, "score", cols, origin),
                      group=group_cell(row, cols, origin, text1))
