"""Records -> plain dict rows, as TRL's trainers and `datasets.Dataset.from_list` take them.

- PreferencePair -> {"prompt", "chosen", "rejected"}, plus "margin" = score_chosen - score_rejected when
  every record has both scores (a column must be in every row or none);
- Unpaired -> {"prompt", "completion", "label"};
- Ranked -> {"prompt", "completions", "scores"};
- MultiAttribute -> {"prompt", "chosen", "rejected", "scores_chosen", "scores_rejected"} (the score
  dicts as {attribute: float}, in the record's attribute order);
- Forget -> {"prompt", "completion", "split"};
- Sentence -> {"text"};
- SentencePair -> {"anchor", "positive"}, plus "negative" when every record has one. When only some
  have one, the negatives are dropped (a column must be in every row or none) with a warning: the pairs
  then train with in-batch negatives only.

`conversational=True` (the model formats with a chat template) turns a string prompt into
[{"role": "user", "content": prompt}] and a string completion into [{"role": "assistant", "content": ...}];
message lists stay as they are. `conversational=False` needs plain strings: message lists raise a
UserError asking for a chat template. Sentence and SentencePair rows are plain text for an encoder:
`conversational` does not apply to them.
"""

from __future__ import annotations

import logging
from typing import Any

from contrastlab.data.records import Forget, MultiAttribute, PreferencePair, Ranked, Sentence, SentencePair, Unpaired
from contrastlab.errors import UserError

log = logging.getLogger(__name__)

NEEDS_TEMPLATE = ("the data is conversational (message lists), so the model needs a chat template to format it: "
                  "set model.chat_template=true and use a model whose tokenizer has one")


def _as(value: Any, role: str, conversational: bool) -> Any:
    if isinstance(value, str):
        return [{"role": role, "content": value}] if conversational else value
    if not conversational:
        raise UserError(NEEDS_TEMPLATE)
    return value


def _pair_rows(records: list, conversational: bool) -> list[dict]:
    with_margin = all(r.score_chosen is not None and r.score_rejected is not None for r in records)
    rows = []
    for r in records:
        row = {"prompt": _as(r.prompt, "user", conversational), "chosen": _as(r.chosen, "assistant", conversational),
               "rejected": _as(r.rejected, "assistant", conversational)}
        if with_margin:
            row["margin"] = float(r.score_chosen) - float(r.score_rejected)
        rows.append(row)
    return rows


def _sentence_pair_rows(records: list) -> list[dict]:
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


def to_rows(records: list, conversational: bool) -> list[dict]:
    """One dict per record, in order; see the module docstring for the columns."""
    if not records:
        return []
    kind = type(records[0])
    if kind is PreferencePair:
        return _pair_rows(records, conversational)
    if kind is Unpaired:
        return [{"prompt": _as(r.prompt, "user", conversational),
                 "completion": _as(r.completion, "assistant", conversational),
                 "label": bool(r.label)} for r in records]
    if kind is Ranked:
        return [{"prompt": _as(r.prompt, "user", conversational),
                 "completions": [_as(c, "assistant", conversational) for c in r.completions],
                 "scores": [float(s) for s in r.scores]} for r in records]
    if kind is MultiAttribute:
        return [{"prompt": _as(r.prompt, "user", conversational), "chosen": _as(r.chosen, "assistant", conversational),
                 "rejected": _as(r.rejected, "assistant", conversational),
                 "scores_chosen": {name: float(score) for name, score in r.scores_chosen.items()},
                 "scores_rejected": {name: float(score) for name, score in r.scores_rejected.items()}}
                for r in records]
    if kind is Forget:
        return [{"prompt": _as(r.prompt, "user", conversational),
                 "completion": _as(r.completion, "assistant", conversational), "split": r.split} for r in records]
    if kind is Sentence:
        return [{"text": r.text} for r in records]
    if kind is SentencePair:
        return _sentence_pair_rows(records)
    raise UserError(f"no row format for {kind.__name__} records; convert them first (data.adapters.adapt)")
