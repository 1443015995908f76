"""Adapters between record types, and records -> rows for TRL trainers and our contrastive trainer."""

from __future__ import annotations

import pytest

from contrastlab.data.records.forget import Forget
from contrastlab.data.records import adapt, can_adapt
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.ranked import Ranked
from contrastlab.data.records.sentence import Sentence
from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.data.records.unpaired import Unpaired
from contrastlab.data.records import to_rows
from contrastlab.errors import UserError

PAIRS = [
    PreferencePair(prompt="Review the film.", chosen="A delight.", rejected="A bore.", group="film-a"),
    PreferencePair(prompt="Review the film.", chosen="Moving.", rejected="Tedious.", group="film-a"),
    PreferencePair(prompt="Review another.", chosen="Sharp.", rejected="Dull.", group="film-b"),
]


def test_identity():
    assert adapt(PAIRS, PreferencePair) == PAIRS
    assert can_adapt(PreferencePair, PreferencePair) and can_adapt(Unpaired, Unpaired)
    assert adapt([], Unpaired) == []


def test_pairs_to_unpaired():
    unpaired = adapt(PAIRS, Unpaired, data_name="rt_sentiment")
    assert len(unpaired) == 2 * len(PAIRS)
    assert [u.label for u in unpaired] == [True, False] * len(PAIRS)
    assert unpaired[0] == Unpaired(prompt="Review the film.", completion="A delight.", label=True, group="film-a")
    assert unpaired[5] == Unpaired(prompt="Review another.", completion="Dull.", label=False, group="film-b")
    assert can_adapt(PreferencePair, Unpaired)


def test_ranked_to_pairs():
    ranked = [Ranked(prompt="Name a colour.", completions=["red", "blue", "mud", "teal"], scores=[3.0, 2.0, 0.0, 2.0],
                     group="g")]
    pairs = adapt(ranked, PreferencePair, data_name="ranked")
    got = {(p.chosen, p.rejected) for p in pairs}
    # blue and teal tie: no pair between them
    assert got == {("red", "blue"), ("red", "mud"), ("red", "teal"), ("blue", "mud"), ("teal", "mud")}
    assert len(pairs) == 5
    red_mud = next(p for p in pairs if (p.chosen, p.rejected) == ("red", "mud"))
    assert (red_mud.score_chosen, red_mud.score_rejected) == (3.0, 0.0)
    assert (red_mud.group, red_mud.prompt) == ("g", "Name a colour.")
    assert can_adapt(Ranked, PreferencePair)


def test_refused_conversion_names_what_is_needed():
    assert not can_adapt(PreferencePair, Forget) and not can_adapt(Unpaired, PreferencePair)
    with pytest.raises(UserError) as caught:
        adapt(PAIRS, Forget, data_name="rt_sentiment")
    assert str(caught.value).startswith("objective needs Forget records but data=rt_sentiment gives PreferencePair; ")
    unpaired = [Unpaired(prompt="p", completion="c", label=True)]
    refused = r"objective needs PreferencePair records but data=kto_file gives Unpaired; .*Ranked"
    with pytest.raises(UserError, match=refused):
        adapt(unpaired, PreferencePair, data_name="kto_file")


def test_rows_plain_strings():
    rows = to_rows(PAIRS, conversational=False)
    assert rows[0] == {"prompt": "Review the film.", "chosen": "A delight.", "rejected": "A bore."}
    unpaired = to_rows(adapt(PAIRS, Unpaired), conversational=False)
    assert unpaired[1] == {"prompt": "Review the film.", "completion": "A bore.", "label": False}


def test_rows_conversational():
    rows = to_rows(PAIRS[:1], conversational=True)
    assert rows == [{"prompt": [{"role": "user", "content": "Review the film."}],
                     "chosen": [{"role": "assistant", "content": "A delight."}],
                     "rejected": [{"role": "assistant", "content": "A bore."}]}]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    chat = PreferencePair(prompt=messages, chosen=[{"role": "assistant", "content": "Hello."}],
                          rejected=[{"role": "assistant", "content": "Go."}])
    assert to_rows([chat], conversational=True)[0]["prompt"] == messages
    unpaired = to_rows([Unpaired(prompt="p", completion="c", label=True)], conversational=True)
    assert unpaired == [{"prompt": [{"role": "user", "content": "p"}],
                         "completion": [{"role": "assistant", "content": "c"}], "label": True}]


def test_rows_message_lists_need_a_chat_template():
    chat = PreferencePair(prompt=[{"role": "user", "content": "Hi"}],
                          chosen=[{"role": "assistant", "content": "Hello."}],
                          rejected=[{"role": "assistant", "content": "Go."}])
    with pytest.raises(UserError, match=r"conversational.*model.chat_template=true"):
        to_rows([chat], conversational=False)


def test_rows_margin_when_every_pair_has_scores():
    scored = [PreferencePair(prompt="p", chosen="a", rejected="b", score_chosen=8.0, score_rejected=5.5),
              PreferencePair(prompt="q", chosen="c", rejected="d", score_chosen=1.0, score_rejected=2.0)]
    assert [row["margin"] for row in to_rows(scored, conversational=False)] == [2.5, -1.0]
    partly = scored + [PreferencePair(prompt="r", chosen="e", rejected="f", score_chosen=3.0)]
    assert all("margin" not in row for row in to_rows(partly, conversational=True))


def test_rows_build_a_dataset():
    import datasets

    dataset = datasets.Dataset.from_list(to_rows(PAIRS, conversational=True))
    assert dataset.column_names == ["prompt", "chosen", "rejected"] and len(dataset) == 3


# --- sentence records ------------------------------------------------------------------------------

SENTENCES = [Sentence(text="A dog runs.", group="g1"), Sentence(text="Rain fell.", group="g2")]


def test_sentence_gives_a_simcse_positive_with_itself():
    pairs = adapt(SENTENCES, SentencePair, data_name="lee")
    assert pairs == [SentencePair(anchor="A dog runs.", positive="A dog runs.", negative=None, group="g1"),
                     SentencePair(anchor="Rain fell.", positive="Rain fell.", negative=None, group="g2")]
    assert can_adapt(Sentence, SentencePair) and can_adapt(SentencePair, SentencePair)
    assert not can_adapt(SentencePair, Sentence) and not can_adapt(Sentence, PreferencePair)
    with pytest.raises(UserError, match=r"objective needs PreferencePair records but data=lee gives Sentence; "
                                        r"choose data that gives MultiAttribute or PreferencePair or Ranked records, "
                                        r"or an objective that takes Sentence or SentencePair"):
        adapt(SENTENCES, PreferencePair, data_name="lee")


def test_rows_of_sentences_and_pairs():
    assert to_rows(SENTENCES, conversational=True) == [{"text": "A dog runs."}, {"text": "Rain fell."}]
    triplets = [SentencePair(anchor="a", positive="p", negative="n"),
                SentencePair(anchor="b", positive="q", negative="m")]
    assert to_rows(triplets, conversational=False) == [{"anchor": "a", "positive": "p", "negative": "n"},
                                                       {"anchor": "b", "positive": "q", "negative": "m"}]
    assert to_rows(adapt(SENTENCES, SentencePair), conversational=False)[1] == {"anchor": "Rain fell.",
                                                                                  "positive": "Rain fell."}


def test_rows_drop_negatives_that_only_some_pairs_have(caplog):
    mixed = [SentencePair(anchor="a", positive="p", negative="n"), SentencePair(anchor="b", positive="q")]
    assert to_rows(mixed, conversational=False) == [{"anchor": "a", "positive": "p"}, {"anchor": "b", "positive": "q"}]
    assert "1 of 2 sentence pairs have a hard negative: dropping them all" in caplog.text


def test_sentence_rows_build_a_dataset():
    import datasets

    rows = to_rows([SentencePair(anchor="a", positive="p", negative="n")] * 3, conversational=False)
    assert datasets.Dataset.from_list(rows).column_names == ["anchor", "positive", "negative"]
