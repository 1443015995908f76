"""The prompt-only record type (`data.records.prompt.Prompt`): read from a file with a prompt column alone, and
converted from every prompted type, each distinct prompt once."""

from __future__ import annotations

import json

import pytest
from conftest import file_cfg

from contrastlab.data.records import adapt, can_adapt, record_types
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.prompt import Prompt
from contrastlab.data.records.ranked import Ranked
from contrastlab.data.sources import load_records, native_record_type
from contrastlab.errors import UserError


def test_a_file_with_a_prompt_column_alone_holds_prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in ("Name a colour.", "What is 2 + 2?")))
    cfg = file_cfg(path)
    assert native_record_type(cfg) is Prompt
    train, evals = load_records(cfg)
    assert train == [Prompt(prompt="Name a colour.", group="'Name a colour.'"),
                     Prompt(prompt="What is 2 + 2?", group="'What is 2 + 2?'")] and evals == []  # fmt: skip
    assert train[0].prompts() == ["Name a colour."] and train[0].sequences() == []
    assert Prompt.rows(train, conversational=True)[1] == {"prompt": [{"role": "user", "content": "What is 2 + 2?"}]}


def test_an_empty_prompt_names_the_line(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "Fine."}) + "\n" + json.dumps({"prompt": "  "}) + "\n")
    with pytest.raises(UserError, match="line 2.*prompt"):
        load_records(file_cfg(path))


def test_pairs_and_lists_give_each_prompt_once():
    pairs = [PreferencePair(prompt="a", chosen="x", rejected="y", group="g1"),
             PreferencePair(prompt="a", chosen="z", rejected="y", group="g1"),
             PreferencePair(prompt="b", chosen="x", rejected="y", group="g2")]  # fmt: skip
    assert adapt(pairs, Prompt) == [Prompt(prompt="a", group="g1"), Prompt(prompt="b", group="g2")]
    ranked = [Ranked(prompt="c", completions=["1", "2"], scores=[1.0, 0.0], group="g3")]
    assert adapt(ranked, Prompt) == [Prompt(prompt="c", group="g3")]


def test_every_prompted_type_converts_to_prompts():
    prompted = [t for t in record_types() if t is not Prompt and t.__name__ not in ("Sentence", "SentencePair")]
    assert prompted and all(can_adapt(t, Prompt) for t in prompted), [t.__name__ for t in prompted]
