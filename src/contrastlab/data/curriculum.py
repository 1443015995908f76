"""Curriculum order for preference pairs (Curry-DPO): easy to hard, the easiest pair being the one whose
chosen and rejected completions are furthest apart in score.

Pattnaik et al. 2024 (Curry-DPO), https://arxiv.org/abs/2403.07230: pairs drawn from ranked lists, ordered by
the gap between their ratings, largest first. Used with a sequential sampler (`train.curriculum=true`).
"""

from __future__ import annotations

from contrastlab.data.records import PreferencePair
from contrastlab.errors import UserError


def by_score_gap(records: list, data_name: str = "") -> list:
    """The pairs sorted by score_chosen - score_rejected, largest gap first; ties keep their order."""
    if records and not isinstance(records[0], PreferencePair):
        raise UserError(f"train.curriculum orders preference pairs, but the objective trains on "
                        f"{type(records[0]).__name__} records; drop train.curriculum")
    for index, pair in enumerate(records):
        if pair.score_chosen is None or pair.score_rejected is None:
            raise UserError(f"train.curriculum orders pairs by score gap but pair {index} of data={data_name or '?'} has "
                            "no scores; use scored data (data=rt_ranked, data=ultrafeedback) or drop train.curriculum")
    return sorted(records, key=lambda p: -(float(p.score_chosen) - float(p.score_rejected)))
