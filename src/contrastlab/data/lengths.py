"""Over-long records: how many a `max_length` cuts, and whether any has room for a completion at all.

The rule is TRL's `keep_start` (the same in our trainer, `objectives.trainers.sequences`, and the evaluation,
`eval.encode`): a prompt + completion longer than `max_length` tokens keeps its first `max_length` tokens, so
the end of the completion is cut; an example whose prompt alone fills `max_length` has no completion token left
and is dropped. A sentence (Sentence, SentencePair, ScoredPair) longer than `max_length` tokens keeps its start.

Sequences are tokenized as the evaluation does (`eval.encode.encode_completion`: the chat template when
`chat`, else the plain text and EOS); sentences with `tokenizer(text)`. Every completion counts: chosen and
rejected, each completion of a ranked list, the completion of a Forget or Unpaired record. The runner reports
`count_truncated` of the training records as `data/truncated`.
"""

from __future__ import annotations

from typing import Any, Iterator

from contrastlab.errors import UserError

__all__ = ["check_room", "count_truncated"]


def _completions(record: Any) -> list | None:
    """The completions of a prompted record (a pair's chosen and rejected, a list's completions), or None for a
    sentence record."""
    if hasattr(record, "completions"):
        return list(record.completions)
    if hasattr(record, "chosen"):
        return [record.chosen, record.rejected]
    if hasattr(record, "completion"):
        return [record.completion]
    return None


def _texts(record: Any) -> list[str]:
    """The texts of a sentence record (Sentence, SentencePair with its negative, ScoredPair)."""
    fields = ("text", "anchor", "positive", "negative", "text1", "text2")
    return [getattr(record, name) for name in fields if isinstance(getattr(record, name, None), str)]


def _lengths(tokenizer, record: Any, chat: bool) -> Iterator[tuple[int, int]]:
    """(prompt tokens, completion tokens) of each sequence of a prompted record; (0, tokens) of each text of a
    sentence record."""
    from contrastlab.eval.encode import encode_completion

    completions = _completions(record)
    if completions is None:
        for text in _texts(record):
            yield 0, len(tokenizer(text)["input_ids"])
        return
    for completion in completions:
        prompt_ids, completion_ids = encode_completion(tokenizer, record.prompt, completion, chat)
        yield len(prompt_ids), len(completion_ids)


def count_truncated(tokenizer, records: list, max_length: int, chat: bool) -> int:
    """How many records have a sequence (prompt + any of its completions, or a sentence's text) longer than
    `max_length` tokens, which training and evaluation cut at the end (`keep_start`)."""
    return sum(any(prompt + completion > max_length for prompt, completion in _lengths(tokenizer, record, chat))
               for record in records)


def check_room(tokenizer, records: list, max_length: int, chat: bool, data_name: str) -> None:
    """A UserError when no record of prompted data has room for a completion token within `max_length` (every
    prompt alone fills it, so every example would be dropped and there is nothing to train on)."""
    shortest = None
    for record in records:
        if _completions(record) is None:
            return  # sentences always keep their start
        for prompt, _ in _lengths(tokenizer, record, chat):
            if prompt < max_length:
                return
            shortest = prompt if shortest is None else min(shortest, prompt)
    if shortest is not None:
        raise UserError(f"train.max_length={max_length}: no example of data={data_name} has room for a completion "
                        f"(the shortest prompt takes {shortest} tokens); raise train.max_length above {shortest}")
