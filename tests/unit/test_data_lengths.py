"""Over-long records: count_truncated counts records with a sequence over max_length tokens, tokenized as the
evaluation does; check_room stops a run whose every prompt fills max_length."""

from __future__ import annotations

import pytest
from conftest import compose

from contrastlab.data.lengths import check_room, count_truncated
from contrastlab.data.records import Forget, PreferencePair, Ranked, Sentence, SentencePair, Unpaired
from contrastlab.errors import UserError
from contrastlab.eval.encode import encode_completion


@pytest.fixture(scope="module")
def tokenizer():
    from contrastlab.models.loading import load_tokenizer

    return load_tokenizer(compose(["model=tiny"]).model)


def longest(tokenizer, prompt, completions, chat: bool) -> int:
    """The longest prompt + completion of a record, in tokens, as the evaluation encodes it."""
    return max(sum(map(len, encode_completion(tokenizer, prompt, completion, chat))) for completion in completions)


@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat"])
def test_a_pair_is_truncated_exactly_when_its_longer_side_is_over(tokenizer, chat):
    pair = PreferencePair(prompt="Name a colour.", chosen="Blue.", rejected="A rather long answer that goes on " * 3)
    length = longest(tokenizer, pair.prompt, [pair.chosen, pair.rejected], chat)
    assert count_truncated(tokenizer, [pair], length, chat) == 0
    assert count_truncated(tokenizer, [pair], length - 1, chat) == 1
    chosen_only = longest(tokenizer, pair.prompt, [pair.chosen], chat)
    assert count_truncated(tokenizer, [pair], chosen_only - 1, chat) == 1  # both sides over: one record


def test_chat_template_counts_its_own_tokens(tokenizer):
    pair = PreferencePair(prompt="Name a colour.", chosen="Blue.", rejected="Red.")
    plain = longest(tokenizer, pair.prompt, [pair.chosen, pair.rejected], chat=False)
    chat = longest(tokenizer, pair.prompt, [pair.chosen, pair.rejected], chat=True)
    assert chat > plain
    assert count_truncated(tokenizer, [pair], plain, chat=False) == 0
    assert count_truncated(tokenizer, [pair], plain, chat=True) == 1


def test_every_completion_of_every_record_type_counts(tokenizer):
    long = "one two three four five six seven eight nine ten " * 4
    short = "Yes."
    limit = longest(tokenizer, "Q?", [short], chat=False) + 5
    records = [
        Ranked(prompt="Q?", completions=[short, short, long], scores=[1.0, 0.5, 0.0]),  # the third is over
        Ranked(prompt="Q?", completions=[short, short], scores=[1.0, 0.0]),
        Forget(prompt="Q?", completion=long, split="forget"),
        Forget(prompt="Q?", completion=short, split="retain"),
        Unpaired(prompt="Q?", completion=long, label=True),
        PreferencePair(prompt=[{"role": "user", "content": "Q?"}], chosen=[{"role": "assistant", "content": short}],
                       rejected=[{"role": "assistant", "content": long}]),
    ]
    assert count_truncated(tokenizer, records, limit, chat=False) == 4
    assert count_truncated(tokenizer, records, 10_000, chat=False) == 0


def test_sentences_count_their_texts(tokenizer):
    text = "The quick brown fox jumps over the lazy dog."
    length = len(tokenizer(text)["input_ids"])
    sentences = [Sentence(text=text), Sentence(text="Hi.")]
    assert count_truncated(tokenizer, sentences, length, chat=False) == 0
    assert count_truncated(tokenizer, sentences, length - 1, chat=False) == 1
    pairs = [SentencePair(anchor="Hi.", positive="Hello.", negative=text), SentencePair(anchor="Hi.", positive="Yo.")]
    assert count_truncated(tokenizer, pairs, length - 1, chat=False) == 1  # the negative counts; None is no text


def test_check_room_stops_only_when_every_prompt_fills_max_length(tokenizer):
    short = PreferencePair(prompt="Q?", chosen="Yes.", rejected="No.")
    long = PreferencePair(prompt="A much longer question about many different things?", chosen="Yes.", rejected="No.")
    prompt = len(encode_completion(tokenizer, short.prompt, short.chosen, False)[0])
    check_room(tokenizer, [long, short], prompt + 1, chat=False, data_name="mine")  # the short one has room
    with pytest.raises(UserError, match=rf"train.max_length={prompt}: no example of data=mine has room for a "
                                        rf"completion \(the shortest prompt takes {prompt} tokens\)"):
        check_room(tokenizer, [long, short], prompt, chat=False, data_name="mine")
    check_room(tokenizer, [Sentence(text="A long sentence " * 10)], 2, chat=False, data_name="mine")
