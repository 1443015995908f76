"""Over-long records: count_truncated counts records with a sequence over max_length tokens, tokenized by the one
encoding (training's and evaluation's); check_room stops a run whose every example has a prompt that fills
max_length."""

from __future__ import annotations

import pytest
from conftest import compose

from contrastlab.data.encoding import Encoding
from contrastlab.data.lengths import check_room, count_truncated
from contrastlab.data.records.forget import Forget
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.ranked import Ranked
from contrastlab.data.records.sentence import Sentence
from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.data.records.unpaired import Unpaired
from contrastlab.errors import UserError


@pytest.fixture(scope="module")
def tokenizer():
    from contrastlab.models.loading import load_tokenizer

    return load_tokenizer(compose(["model=tiny"]).model)


def longest(tokenizer, prompt, completions, chat: bool) -> int:
    """The longest prompt + completion of a record, in tokens, as the one encoding gives it."""
    return max(len(Encoding(tokenizer, chat).sequence(prompt, completion)) for completion in completions)


@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat"])
def test_a_pair_is_truncated_exactly_when_its_longer_side_is_over(tokenizer, chat):
    pair = PreferencePair(prompt="Name a colour.", chosen="Blue.", rejected="A rather long answer that goes on " * 3)
    length = longest(tokenizer, pair.prompt, [pair.chosen, pair.rejected], chat)
    assert count_truncated(Encoding(tokenizer, chat), [pair], length) == 0
    assert count_truncated(Encoding(tokenizer, chat), [pair], length - 1) == 1
    chosen_only = longest(tokenizer, pair.prompt, [pair.chosen], chat)
    assert count_truncated(Encoding(tokenizer, chat), [pair], chosen_only - 1) == 1  # both sides over: one record


def test_chat_template_counts_its_own_tokens(tokenizer):
    pair = PreferencePair(prompt="Name a colour.", chosen="Blue.", rejected="Red.")
    plain = longest(tokenizer, pair.prompt, [pair.chosen, pair.rejected], chat=False)
    chat = longest(tokenizer, pair.prompt, [pair.chosen, pair.rejected], chat=True)
    assert chat > plain
    assert count_truncated(Encoding(tokenizer, False), [pair], plain) == 0
    assert count_truncated(Encoding(tokenizer, True), [pair], plain) == 1


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
        PreferencePair(prompt="Q?", chosen=short, rejected=long),
    ]
    assert count_truncated(Encoding(tokenizer, False), records, limit) == 4
    assert count_truncated(Encoding(tokenizer, False), records, 10_000) == 0
    conversation = PreferencePair(prompt=[{"role": "user", "content": "Q?"}],
                                  chosen=[{"role": "assistant", "content": short}],
                                  rejected=[{"role": "assistant", "content": long}])
    chat_limit = longest(tokenizer, conversation.prompt, [conversation.chosen], chat=True) + 5
    assert count_truncated(Encoding(tokenizer, True), [conversation], chat_limit) == 1
    with pytest.raises(UserError, match="needs a chat template"):  # message lists without one: refused, not guessed
        count_truncated(Encoding(tokenizer, False), [conversation], limit)


def test_sentences_count_their_texts(tokenizer):
    text = "The quick brown fox jumps over the lazy dog."
    length = len(tokenizer(text)["input_ids"])
    sentences = [Sentence(text=text), Sentence(text="Hi.")]
    assert count_truncated(Encoding(tokenizer, False), sentences, length) == 0
    assert count_truncated(Encoding(tokenizer, False), sentences, length - 1) == 1
    pairs = [SentencePair(anchor="Hi.", positive="Hello.", negative=text), SentencePair(anchor="Hi.", positive="Yo.")]
    assert count_truncated(Encoding(tokenizer, False), pairs, length - 1) == 1  # the negative counts; None is no text


def test_check_room_stops_only_when_every_prompt_fills_max_length(tokenizer):
    short = PreferencePair(prompt="Q?", chosen="Yes.", rejected="No.")
    long = PreferencePair(prompt="A much longer question about many different things?", chosen="Yes.", rejected="No.")
    plain = Encoding(tokenizer, False)
    prompt = len(plain.prompt(short.prompt))
    check_room(plain, [long, short], prompt + 1, data_name="mine")  # the short one has room
    with pytest.raises(UserError, match=rf"train.max_length={prompt}: no example of data=mine has room for a "
                                        rf"completion \(the shortest prompt takes {prompt} tokens\)"):
        check_room(plain, [long, short], prompt, data_name="mine")
    check_room(plain, [Sentence(text="A long sentence " * 10)], 2, data_name="mine")
