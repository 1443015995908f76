"""Record types as classes: conversions between them (registered by class), the rows they write for TRL, and what
each gives a sequence objective (its sequences and batch extras)."""

from __future__ import annotations

import pytest

from contrastlab.data.records import adapt, can_adapt, to_rows
from contrastlab.data.records.forget import Forget
from contrastlab.data.records.multi_attribute import MultiAttribute
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.ranked import Ranked
from contrastlab.data.records.unpaired import Unpaired
from contrastlab.data.sources.rt_multi import load_rt_multi
from contrastlab.errors import UserError


def test_pairs_to_ranked():
    pairs = [PreferencePair(prompt="p", chosen="a", rejected="b", group="g"),
             PreferencePair(prompt="q", chosen="c", rejected="d", score_chosen=8.0, score_rejected=5.5, group="h"),
             PreferencePair(prompt="r", chosen="e", rejected="f", score_chosen=3.0)]
    assert can_adapt(PreferencePair, Ranked)
    assert adapt(pairs, Ranked) == [Ranked(prompt="p", completions=["a", "b"], scores=[1.0, 0.0], group="g"),
                                      Ranked(prompt="q", completions=["c", "d"], scores=[8.0, 5.5], group="h"),
                                      Ranked(prompt="r", completions=["e", "f"], scores=[1.0, 0.0])]
    assert adapt(adapt(pairs[:2], Ranked), PreferencePair)[0] == PreferencePair(
        prompt="p", chosen="a", rejected="b", score_chosen=1.0, score_rejected=0.0, group="g")


def test_multi_attribute_to_pairs_and_forget_to_nothing():
    multi = [MultiAttribute(prompt="p", chosen="a", rejected="b", scores_chosen={"x": 1.0},
                            scores_rejected={"x": 0.0}, group="g")]
    assert adapt(multi, PreferencePair) == [PreferencePair(prompt="p", chosen="a", rejected="b", group="g")]
    assert not can_adapt(MultiAttribute, Ranked) and not can_adapt(PreferencePair, MultiAttribute)
    forget = [Forget(prompt="p", completion="c", split="forget")]
    for target in (PreferencePair, Unpaired, Ranked):
        assert not can_adapt(Forget, target)
        with pytest.raises(UserError, match=rf"objective needs {target.__name__} records but data=rt_forget gives Forget"):
            adapt(forget, target, data_name="rt_forget")
    with pytest.raises(UserError, match=r"objective needs Forget records but data=rt_sentiment gives PreferencePair; "
                                        r"choose data that gives Forget records"):
        adapt([PreferencePair(prompt="p", chosen="a", rejected="b")], Forget, data_name="rt_sentiment")


def test_rows_of_forget_and_multi_attribute():
    import datasets

    forget = [Forget(prompt="p", completion="c", split="forget", group="g"),
              Forget(prompt="q", completion="d", split="retain", group="h")]
    assert to_rows(forget, conversational=False) == [{"prompt": "p", "completion": "c", "split": "forget"},
                                                     {"prompt": "q", "completion": "d", "split": "retain"}]
    assert to_rows(forget[:1], conversational=True) == [{"prompt": [{"role": "user", "content": "p"}],
                                                         "completion": [{"role": "assistant", "content": "c"}],
                                                         "split": "forget"}]
    multi = load_rt_multi()[:3]
    rows = to_rows(multi, conversational=False)
    assert rows[0] == {"prompt": multi[0].prompt, "chosen": multi[0].chosen, "rejected": multi[0].rejected,
                       "scores_chosen": {"sentiment": 1.0, "brevity": pytest.approx(0.46)},
                       "scores_rejected": {"sentiment": 0.0, "brevity": pytest.approx(0.42)}}
    dataset = datasets.Dataset.from_list(rows)
    assert dataset.column_names == ["prompt", "chosen", "rejected", "scores_chosen", "scores_rejected"]
    assert datasets.Dataset.from_list(to_rows(forget, conversational=True)).column_names == ["prompt", "completion",
                                                                                             "split"]
