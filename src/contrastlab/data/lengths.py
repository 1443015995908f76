"""Over-long records: how many a `max_length` cuts, and whether any has room for a completion at all.

The rule is TRL's `keep_start` (the same in training and evaluation: both use the one encoding, `data.encoding`):
a prompt + completion longer than `max_length` tokens keeps its first `max_length` tokens, so the end of the
completion is cut; an example with a sequence whose prompt alone fills `max_length` has no completion token left
and is dropped. A text of a sentence record (Sentence, SentencePair, ScoredPair) longer than `max_length` tokens
keeps its start. Every sequence counts: a pair's chosen and rejected, each completion of a ranked list, the
completion of a forget or unpaired record. The job reports `count_truncated` of the training records as
`data/truncated`.
"""

from __future__ import annotations

from contrastlab.data.encoding import Encoding
from contrastlab.errors import UserError

__all__ = ["check_room", "count_truncated"]


def _too_long(encoding: Encoding, record, max_length: int) -> bool:
    sequences = record.sequences()
    if not sequences:
        return any(len(encoding.tokenizer(text)["input_ids"]) > max_length for text in record.texts())
    return any(len(ids) > max_length for ids in encoding(sequences)[0])


def count_truncated(encoding: Encoding, records: list, max_length: int) -> int:
    """How many records have a sequence (prompt + any of its completions, or a sentence's text) longer than
    `max_length` tokens, which training and evaluation cut at the end (`keep_start`)."""
    return sum(_too_long(encoding, record, max_length) for record in records)


def check_room(encoding: Encoding, records: list, max_length: int, data_name: str) -> None:
    """A UserError when no record of prompted data has room for a completion token within `max_length` in each of
    its sequences (every example would be dropped and there is nothing to train on)."""
    shortest = None
    for record in records:
        sequences = record.sequences()
        if not sequences:
            return  # sentences always keep their start
        starts = encoding(sequences)[1]
        if all(start < max_length for start in starts):
            return
        longest = max(starts)
        shortest = longest if shortest is None else min(shortest, longest)
    if shortest is not None:
        raise UserError(f"train.max_length={max_length}: no example of data={data_name} has room for a completion "
                        f"(the shortest prompt takes {shortest} tokens); raise train.max_length above {shortest}")
