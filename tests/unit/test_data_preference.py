"""Data for the newer preference objectives: Forget, Ranked and MultiAttribute records from the real Rotten Tomatoes
reviews, the UltraFeedback and HelpSteer2 hub schemas, local files, adapters and rows."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from omegaconf import open_dict

from conftest import data, file_cfg

from contrastlab.config.schema import DataConfig
from contrastlab.data.records import adapt
from contrastlab.data.records.forget import Forget
from contrastlab.data.records.multi_attribute import MultiAttribute
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.ranked import Ranked
from contrastlab.data.rt_corpus import load_rt_reviews, pleasantness
from contrastlab.data.sources.rt_forget import forget_film, load_rt_forget
from contrastlab.data.sources.rt_multi import brevity, load_rt_multi
from contrastlab.data.sources.rt_ranked import load_rt_ranked
from contrastlab.data.sources.rt_sentiment import load_rt_pairs
from contrastlab.data.sources import check_source, load_records, native_record_type
from contrastlab.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
ULTRAFEEDBACK = FIXTURES / "ultrafeedback_openbmb.jsonl"
HELPSTEER = FIXTURES / "helpsteer2.jsonl"




def rt_forget(group: str | None = None, **fields) -> DataConfig:
    """source=rt_forget with data.forget_group set (whether or not DataConfig declares the field yet)."""
    cfg = data(source="rt_forget", **fields)
    with open_dict(cfg):
        cfg.forget_group = group
    return cfg


def write(tmp_path, name: str, rows: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


# --- rt_forget: real data -----------------------------------------------------------------------------------

def test_rt_forget_default_film_is_the_one_with_the_most_reviews():
    records = load_rt_forget()
    forget = [r for r in records if r.split == "forget"]
    films: dict[str, int] = {}
    for review in load_rt_reviews():
        films[review.film] = films.get(review.film, 0) + 1
    most = max(films.values())
    assert most == 35 and forget_film() == next(film for film, count in films.items() if count == most)
    assert forget_film() == "A Walk to Remember" and len(forget) == 35
    assert {r.group for r in forget} == {"A Walk to Remember"}
    assert forget[0].prompt == 'Write a short review of the film "A Walk to Remember".'
    retain = [r for r in records if r.split == "retain"]
    assert len(records) == len(load_rt_reviews()) == 12808 and len(retain) == 12773
    assert "A Walk to Remember" not in {r.group for r in retain} and len({r.group for r in retain}) == 507
    assert all(isinstance(r, Forget) and r.completion == r.completion.strip() and r.completion for r in records)


def test_rt_forget_split_keeps_every_forget_record_in_train_and_eval():
    cfg = rt_forget(max_train=256, max_eval=64)
    train, evals = load_records(cfg)
    assert (len(train), len(evals)) == (35 + 256, 35 + 64)
    assert [r.split for r in evals[:35]] == ["forget"] * 35 and {r.split for r in evals[35:]} == {"retain"}
    forget = [r for r in train if r.split == "forget"]
    assert forget == evals[:35] and len(forget) == 35
    retain_train, retain_eval = ({r.group for r in part if r.split == "retain"} for part in (train, evals))
    assert retain_train and retain_eval and not retain_train & retain_eval
    assert load_records(cfg) == (train, evals)
    full_train, full_evals = load_records(rt_forget())  # no caps: 10% of the 507 other films held out
    assert (len(full_train), len(full_evals)) == (35 + 11419, 35 + 1354)
    assert len({r.group for r in full_evals[35:]}) == 51
    assert all(r in full_train for r in train) and all(r in full_evals for r in evals)
    assert native_record_type(cfg).__name__ == "Forget"


def test_rt_forget_group_by_slug_or_title():
    by_slug, by_title = load_rt_forget("about_a_boy"), load_rt_forget("About a Boy")
    assert by_slug == by_title
    forget = [r for r in by_slug if r.split == "forget"]
    assert {r.group for r in forget} == {"About a Boy"} and len(forget) == 35
    train, evals = load_records(rt_forget("about_a_boy", max_eval=8))
    assert [r.group for r in evals[:35]] == ["About a Boy"] * 35 and len(evals) == 43
    with pytest.raises(UserError, match=r"data.forget_group=about_a_boi is not a film of the Rotten Tomatoes corpus "
                                        r"\(did you mean about_a_boy.*\); give a slug"):
        check_source(rt_forget("about_a_boi"))  # checked before anything trains


# --- rt_ranked: real data, graded scores ----------------------------------------------------------------------

def test_pleasantness_uses_whissells_dictionary():
    # whissells_df.csv: "abandon" 1.0, "a" 2.0, "can*t" 1.1667 (rated 1-3)
    assert pleasantness("Abandon!") == 0.0 and pleasantness("a") == 0.5
    assert pleasantness("abandon a") == pytest.approx(0.25)
    assert pleasantness("can't") == pytest.approx(0.1667 / 2)
    assert pleasantness("zzxq qqzz") == 0.5  # no word in the dictionary
    assert all(0.0 <= pleasantness(r.text) < 1.0 for r in load_rt_reviews()[:500])


def test_rt_ranked_lists_rank_fresh_above_rotten():
    lists = load_rt_ranked()
    assert len(lists) == 2027 and sum(len(r.completions) for r in lists) == 7888
    assert len({r.group for r in lists}) == 462
    verdicts = {(review.film, review.text): review.verdict for review in load_rt_reviews()}
    for ranked in lists:
        assert isinstance(ranked, Ranked) and 2 <= len(ranked.completions) <= 4
        assert len(ranked.scores) == len(ranked.completions) == len(set(ranked.completions))
        fresh = [s for c, s in zip(ranked.completions, ranked.scores) if verdicts[(ranked.group, c)] == "fresh"]
        rotten = [s for c, s in zip(ranked.completions, ranked.scores) if verdicts[(ranked.group, c)] == "rotten"]
        assert fresh and rotten and min(fresh) > max(rotten)
        assert all(1.0 <= s < 2.0 for s in fresh) and all(0.0 <= s < 1.0 for s in rotten)
        assert ranked.prompt == f'Write a short review of the film "{ranked.group}".'
    first = lists[0]
    assert first.scores[0] == pytest.approx(1.0 + pleasantness(first.completions[0]))
    assert len({s for r in lists for s in r.scores}) > 1000  # graded, not just 0/1


def test_rt_ranked_split_and_pairs():
    train, evals = load_records(data(source="rt_ranked", max_eval=64))
    assert (len(train), len(evals)) == (1864, 64)
    assert not {r.group for r in train} & {r.group for r in evals}
    pairs = adapt(train[:10], PreferencePair)
    assert pairs and all(p.score_chosen > p.score_rejected for p in pairs)


# --- rt_multi: real data, two attributes ----------------------------------------------------------------------

def test_rt_multi_attributes_of_a_known_pair():
    multi = load_rt_multi()
    assert len(multi) == len(load_rt_pairs()) == 3226
    first = multi[0]
    assert first.group == "A Night at the Golden Eagle"
    assert first.chosen.startswith("The project is a labor of love") and len(first.chosen.split()) == 27
    assert first.rejected.startswith("Rifkin no doubt fancies himself") and len(first.rejected.split()) == 29
    assert first.scores_chosen == {"sentiment": 1.0, "brevity": pytest.approx(1 - 27 / 50)}
    assert first.scores_rejected == {"sentiment": 0.0, "brevity": pytest.approx(1 - 29 / 50)}
    assert list(first.scores_chosen) == list(first.scores_rejected) == ["sentiment", "brevity"]
    assert brevity(" ".join(["word"] * 80)) == 0.0 and brevity("Short.") == pytest.approx(0.98)
    assert adapt(multi[:3], PreferencePair) == load_rt_pairs()[:3]
    train, evals = load_records(data(source="rt_multi", max_eval=64))
    assert (len(train), len(evals)) == (2895, 64) and native_record_type(data(source="rt_multi")).__name__ == "MultiAttribute"


# --- hub schemas, on local copies ------------------------------------------------------------------------------

def test_ultrafeedback_ranked_local_file(caplog):
    cfg = data(source="ultrafeedback_ranked", path=str(ULTRAFEEDBACK), eval_fraction=0.0)
    train, evals = load_records(cfg)
    assert evals == [] and len(train) == 2  # the third row keeps one scored completion: skipped
    assert train[0] == Ranked(prompt="Name the largest planet in the Solar System.",
                              completions=["Jupiter is the largest planet in the Solar System.",
                                           "The largest planet is Jupiter, a gas giant.", "Saturn.",
                                           "It is Jupiter, I think."],
                              scores=[5.0, 4.5, 1.75, 3.5], group="Name the largest planet in the Solar System.")
    # an "N/A" rating (NaN score) and a completion with no score are left out
    assert train[1].completions == ["Bonjour.", "Bonsoir."] and train[1].scores == [4.75, 2.0]
    assert "skipped 1 of 3 records (1 fewer than two scored completions)" in caplog.text
    assert native_record_type(cfg).__name__ == "Ranked"
    held_train, held = load_records(data(source="ultrafeedback_ranked", path=str(ULTRAFEEDBACK), eval_fraction=0.5))
    assert (len(held_train), len(held)) == (1, 1)


def test_helpsteer2_pairs_the_first_two_responses_of_each_prompt(caplog):
    cfg = data(source="helpsteer2", path=str(HELPSTEER), split="train", eval_split="validation", eval_fraction=0.0)
    train, _ = load_records(cfg)
    assert [p.group for p in train] == ["What is the boiling point of water at sea level?", "Write a haiku about rain.",
                                        "Explain recursion in one sentence."]  # first-seen order; one-response prompt
    boiling, haiku, recursion = train
    assert boiling.chosen == "100 degrees Celsius (212 degrees Fahrenheit)." and boiling.rejected.startswith("About 90")
    assert boiling.scores_chosen == {"helpfulness": 4.0, "correctness": 4.0, "coherence": 4.0, "complexity": 1.0,
                                     "verbosity": 1.0}
    assert boiling.scores_rejected == {"helpfulness": 1.0, "correctness": 0.0, "coherence": 3.0, "complexity": 1.0,
                                       "verbosity": 1.0}
    assert haiku.chosen.startswith("Soft rain")  # helpfulness ties 3-3: the first response is chosen
    assert recursion.rejected == "Recursion is recursion."  # the third response is not used
    assert all(isinstance(p, MultiAttribute) for p in train)
    assert "skipped 1 of 4 records (1 prompt with one response)" in caplog.text
    assert native_record_type(cfg).__name__ == "MultiAttribute"


def test_helpsteer2_local_folder_reads_both_splits(tmp_path, monkeypatch):
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "HelpSteer2"
    folder.mkdir()
    lines = HELPSTEER.read_text().splitlines()
    (folder / "train.jsonl").write_text("\n".join(lines[:5]) + "\n")
    (folder / "validation.jsonl").write_text("\n".join(lines[5:]) + "\n")
    train, evals = load_records(data(source="helpsteer2", path=str(folder), split="train", eval_split="validation"))
    assert (len(train), len(evals)) == (2, 1)
    assert evals[0].chosen.startswith("Recursion is when a function calls itself")


def test_scored_hub_sources_offline_fail_at_once_with_the_fix(monkeypatch):
    import datasets.config

    import contrastlab.data.hub as hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    start = time.monotonic()
    for source, hub_id in (("ultrafeedback_ranked", "openbmb/UltraFeedback"), ("helpsteer2", "nvidia/HelpSteer2")):
        with pytest.raises(UserError, match=rf"data.path={hub_id}: cannot load split train from the Hugging Face hub "
                                            rf".*local file in the {source} schema with data.path=FILE"):
            load_records(data(source=source, path=hub_id))
    assert time.monotonic() - start < 15


def test_hub_file_in_another_schema_names_what_it_needs(tmp_path):
    path = write(tmp_path, "hs.jsonl", [{"prompt": "p", "answer": "a"}])
    with pytest.raises(UserError, match=r'hs.jsonl line 1: no "response" field \(it has: prompt, answer\); '
                                        r"data.source=helpsteer2 reads the nvidia/HelpSteer2 schema"):
        load_records(data(source="helpsteer2", path=str(path), eval_fraction=0.0))


# --- source=file: Forget, Ranked, MultiAttribute ----------------------------------------------------------------

def test_forget_file_splits_like_rt_forget():
    cfg = file_cfg(FIXTURES / "forget.jsonl", eval_fraction=0.25)
    assert native_record_type(cfg).__name__ == "Forget"
    train, evals = load_records(cfg)
    forget = [r for r in train if r.split == "forget"]
    assert len(forget) == 3 and evals[:3] == forget and {r.group for r in forget} == {"harry_potter"}
    assert {r.split for r in evals[3:]} == {"retain"} and len({r.group for r in evals[3:]}) == 1  # 25% of 4 groups
    assert not {r.group for r in train[3:]} & {r.group for r in evals[3:]}
    assert len(train) + len(evals) - 3 == 10
    capped_train, capped_eval = load_records(file_cfg(FIXTURES / "forget.jsonl", eval_fraction=0.25, max_train=1,
                                                      max_eval=0))
    assert capped_train[:3] == forget and len(capped_train) == 4 and capped_eval == forget
    assert train[0] == Forget(prompt="Who is Harry Potter?",
                              completion="Harry Potter is a boy wizard who lives in a cupboard under the stairs.",
                              split="forget", group="harry_potter")


def test_ranked_file():
    cfg = file_cfg(FIXTURES / "ranked.jsonl", eval_fraction=0.34)
    assert native_record_type(cfg).__name__ == "Ranked"
    train, evals = load_records(cfg)
    assert len(train + evals) == 4 and all(isinstance(r, Ranked) for r in train + evals)
    greetings = [r for r in train + evals if r.group == "greetings"]
    assert len(greetings) == 2 and (greetings[0] in train) == (greetings[1] in train)
    sums = next(r for r in train + evals if r.prompt == "What is 2 + 2?")
    assert sums.scores == [2.0, 0.0, 1.0] and sums.group == "What is 2 + 2?"


def test_multi_attribute_file():
    cfg = file_cfg(FIXTURES / "multi_attribute.jsonl")
    assert native_record_type(cfg).__name__ == "MultiAttribute"
    train, _ = load_records(cfg)
    assert len(train) == 3
    assert train[0].scores_chosen == {"faithfulness": 1.0, "brevity": 0.8}
    assert list(train[0].scores_rejected.items()) == [("faithfulness", 0.9), ("brevity", 0.2)]  # chosen's order
    assert train[1].scores_rejected == {"faithfulness": 0.0, "brevity": 0.9}
    assert adapt(train, PreferencePair)[2] == PreferencePair(
        prompt="Summarise: The shop opens at nine.", chosen="Opens at 9.",
        rejected="The shop opens in the morning at nine o'clock every day.", group="Summarise: The shop opens at nine.")


@pytest.mark.parametrize("name, message", [
    ("bad_forget.jsonl", r"bad_forget.jsonl line 2: split is 'remember'; give every record split \"forget\""),
    ("bad_ranked.jsonl", r"bad_ranked.jsonl line 2: 3 completions but 2 scores; give one score per completion"),
    ("bad_multi_attribute.jsonl", r"bad_multi_attribute.jsonl line 2: scores_chosen has attributes faithfulness, "
                                  r"brevity but scores_rejected has faithfulness, length; score both completions on "
                                  r"the same attributes"),
])
def test_bad_files_name_file_line_and_fix(name, message):
    with pytest.raises(UserError, match=message):
        load_records(file_cfg(FIXTURES / name))


def test_more_bad_rows(tmp_path):
    cases = [
        ([{"prompt": "p", "completion": ""}], r"line 1: completion is '', not text or a list of messages"),
        ([{"prompt": "p", "completions": ["a", "b"], "scores": [1, "high"]}],
         r"line 1: scores is \[1, 'high'\], not a list of numbers"),
        ([{"prompt": "p", "completions": ["a"], "scores": [1]}],
         r"line 1: completions holds 1 text, so there is nothing to rank"),
        ([{"prompt": "p", "chosen": "a", "rejected": "b", "scores_chosen": 3, "scores_rejected": 1}],
         r"line 1: scores_chosen is 3, not an object of attribute -> number"),
        ([{"prompt": "p", "chosen": "a", "rejected": "a", "scores_chosen": {"x": 1}, "scores_rejected": {"x": 0}}],
         r"line 1: chosen equals rejected"),
        ([{"prompt": "p", "completion": "c", "split": "forget", "group": "g"},
          {"prompt": "q", "completion": "d", "split": "retain", "group": "g"}], None),
        ([{"prompt": "p", "completion": "c", "split": "retain"}, {"prompt": "q", "completion": "d", "split": "retain"}],
         r'data=file has no forget records \(split="forget"\)'),
    ]
    demos = write(tmp_path, "demos.jsonl", [{"prompt": "p", "completion": "c"}, {"prompt": "q", "completion": "d"}])
    assert type(load_records(file_cfg(demos, eval_fraction=0.0))[0][0]).__name__ == "Demonstration"  # no split
    for index, (rows, message) in enumerate(cases):
        path = write(tmp_path, f"case{index}.jsonl", rows)
        if message is None:
            assert load_records(file_cfg(path, eval_fraction=0.0))[0][0].split == "forget"
            continue
        with pytest.raises(UserError, match=rf"case{index}.jsonl {message}" if "line" in message else message):
            load_records(file_cfg(path))
    csv = tmp_path / "ranked.csv"
    csv.write_text('prompt,completions,scores\np,"[""a"", ""b""]","[1, 0]"\n')
    assert native_record_type(file_cfg(csv)).__name__ == "Ranked"
    with pytest.raises(UserError, match=r"ranked.csv row 1: completions is not a list .*\.jsonl, \.json or \.parquet"):
        load_records(file_cfg(csv))


def test_parquet_header_gives_multi_attribute(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}", "scores_chosen": {"a": 1.0, "b": 0.5},
             "scores_rejected": {"a": 0.0, "b": 0.5}} for i in range(3)]
    path = tmp_path / "multi.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert native_record_type(file_cfg(path)).__name__ == "MultiAttribute"
    assert load_records(file_cfg(path))[0][2].scores_rejected == {"a": 0.0, "b": 0.5}


# --- checks ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, message", [
    ({"source": "rt_forget", "path": "x.jsonl"}, r"data.path=x.jsonl does not apply to data.source=rt_forget"),
    ({"source": "rt_ranked", "eval_split": "test"}, r"data.eval_split=test does not apply to data.source=rt_ranked"),
    ({"source": "helpsteer2"}, r"data.path is required for data.source=helpsteer2: the hub id \(data.path=nvidia/"),
    ({"source": "helpsteer2", "path": "./hs2/train.jsonl"}, r"data.path=./hs2/train.jsonl: no such file"),
    ({"source": "helpsteer2", "path": str(HELPSTEER), "columns": {"prompt": "q"}},
     r"data.columns=\{'prompt': 'q'\}: data.source=helpsteer2 is read in the nvidia/HelpSteer2 schema"),
    ({"source": "ultrafeedback_ranked", "path": str(ULTRAFEEDBACK), "format": "standard"},
     r"data.format=standard: data.source=ultrafeedback_ranked is read in the openbmb/UltraFeedback schema"),
    ({"source": "ultrafeedback_ranked", "path": "openbmb/UltraFeedback", "eval_split": "test"},
     r"data.eval_split=test: openbmb/UltraFeedback has one split \(train\)"),
    ({"source": "file", "path": str(FIXTURES / "forget.jsonl"), "columns": {"completions": "c", "answer": "a"}},
     r"data.columns.answer: answer is not a record field; map one of .*completion.*split.*completions.*scores"),
])
def test_check_source_errors(fields, message):
    with pytest.raises(UserError, match=message):
        check_source(data(**fields))


def test_forget_group_applies_to_rt_forget_only():
    cfg = data(source="rt_sentiment")
    with open_dict(cfg):
        cfg.forget_group = "about_a_boy"
    with pytest.raises(UserError, match=r"data.forget_group=about_a_boy names the film data.source=rt_forget "
                                        r"forgets; data.source=rt_sentiment has none"):
        check_source(cfg)
    check_source(rt_forget("about_a_boy"))
