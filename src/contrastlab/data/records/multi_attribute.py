"""MultiAttribute: a preference pair with one score per attribute for each side, as MODPO consumes.

Sequences: chosen, then rejected. Batch extras: `attributes`, per sequence its scores in the attributes' order
(the order of the first record's `scores_chosen`). Rows: {"prompt", "chosen", "rejected", "scores_chosen",
"scores_rejected"}. In a file: a preference pair (read as `data.pair_formats` reads one) with `scores_chosen` and
`scores_rejected` objects of attribute -> number over the same attributes. Converts to the PreferencePair it is
(its attribute scores dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from contrastlab.data.cells import bad, cell, number, parse_rows
from contrastlab.data.records.base import Record, converts, messages
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.ranked import LISTS


@dataclass
class MultiAttribute(Record):
    """A preference pair with one score per attribute for each side (same keys, higher is better)."""

    noun: ClassVar[str] = "multi-attribute pairs"
    fields: ClassVar[tuple[str, ...]] = ("scores_chosen", "scores_rejected")
    file_priority: ClassVar[int] = 40
    file_hint: ClassVar[str] = "data=jsonl with scores_chosen/scores_rejected objects"
    pairwise: ClassVar[bool] = True

    prompt: Any
    chosen: Any
    rejected: Any
    scores_chosen: dict[str, float] = field(default_factory=dict)  # attribute -> score of `chosen`
    scores_rejected: dict[str, float] = field(default_factory=dict)  # the same attributes -> scores of `rejected`
    group: str = ""

    def sequences(self) -> list:
        return [(self.prompt, self.chosen), (self.prompt, self.rejected)]

    @classmethod
    def extras(cls, records: list) -> list[dict]:
        names = list(records[0].scores_chosen) if records else []
        return [{"attributes": [[float(r.scores_chosen[n]) for n in names],
                                [float(r.scores_rejected[n]) for n in names]]} for r in records]  # fmt: skip

    @classmethod
    def attribute_margins(cls, records: list) -> dict[str, list[float]]:
        names = list(records[0].scores_chosen) if records else []
        return {n: [r.scores_chosen[n] - r.scores_rejected[n] for r in records] for n in names}

    def row(self, conversational: bool) -> dict:
        return {"prompt": messages(self.prompt, "user", conversational),
                "chosen": messages(self.chosen, "assistant", conversational),
                "rejected": messages(self.rejected, "assistant", conversational),
                "scores_chosen": {name: float(score) for name, score in self.scores_chosen.items()},
                "scores_rejected": {name: float(score) for name, score in self.scores_rejected.items()}}

    @classmethod
    def file_match(cls, has, column) -> bool:
        return has("scores_chosen") or has("scores_rejected")

    @classmethod
    def parse(cls, rows: list, cols, origin, fmt: str = "auto") -> list:
        from contrastlab.data.pair_formats import PARSERS, detect_format_of

        parse_pair = PARSERS[detect_format_of(rows, cols, origin)] if rows else None
        return parse_rows(rows, lambda row, c, o: _multi_of(row, c, o, parse_pair), cols, origin, cls.noun)


def _scores(row, field: str, cols, origin) -> dict[str, float]:
    value = cell(row, field, cols, origin, required=True)
    scores = {str(name): number(score) for name, score in value.items()} if isinstance(value, dict) else {}
    if not scores or None in scores.values():
        raise bad(origin, row, f"{field} is {value!r}, not an object of attribute -> number",
                  f'give {field} as e.g. {{"helpfulness": 3, "brevity": 0.5}} in {LISTS}',
                  f"{field} not attribute scores")
    return scores


def _multi_of(row, cols, origin, parse_pair) -> MultiAttribute:
    """A preference pair (read by `parse_pair`) with `scores_chosen` and `scores_rejected` over the same attributes."""
    pair = parse_pair(row, cols, origin)
    if pair["chosen"] == pair["rejected"]:
        raise bad(origin, row, "chosen equals rejected", "give two different completions, or drop the record",
                  "chosen equals rejected")
    chosen, rejected = _scores(row, "scores_chosen", cols, origin), _scores(row, "scores_rejected", cols, origin)
    if set(chosen) != set(rejected):
        raise bad(origin, row, f"scores_chosen has attributes {', '.join(chosen)} but scores_rejected has "
                  f"{', '.join(rejected)}", "score both completions on the same attributes",
                  "scores over different attributes")
    return MultiAttribute(prompt=pair["prompt"], chosen=pair["chosen"], rejected=pair["rejected"],
                          scores_chosen=chosen, scores_rejected={name: rejected[name] for name in chosen},
                          group=pair["group"])


@converts(MultiAttribute, PreferencePair)
def multi_to_pairs(records: list) -> list:
    """Each multi-attribute pair -> the PreferencePair it is (no scalar scores), group kept."""
    return [PreferencePair(prompt=r.prompt, chosen=r.chosen, rejected=r.rejected, group=r.group) for r in records]
