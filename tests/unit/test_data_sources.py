"""Data sources: the real Rotten Tomatoes pairs, local files in every format, the hub schemas, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import data, file_cfg

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.rt_corpus import film_title
from contrastlab.data.sources.rt_sentiment import load_rt_pairs
from contrastlab.data.sources import check_source, load_records, native_record_type
from contrastlab.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"




def user(message: str) -> list[dict]:
    return [{"role": "user", "content": message}]


def assistant(message: str) -> list[dict]:
    return [{"role": "assistant", "content": message}]


# --- rt_sentiment: real data --------------------------------------------------------------------

def test_rt_sentiment_counts_and_records():
    pairs = load_rt_pairs()
    films = {pair.group for pair in pairs}
    assert len(pairs) > 3000 and len(films) > 400
    assert all(isinstance(pair, PreferencePair) for pair in pairs)
    assert all(pair.chosen and pair.rejected and pair.chosen != pair.rejected for pair in pairs)
    assert all(pair.chosen == pair.chosen.strip() for pair in pairs)
    bourne = [pair for pair in pairs if pair.group == "The Bourne Identity"]
    assert bourne and bourne[0].prompt == 'Write a short review of the film "The Bourne Identity".'


def test_film_titles_are_readable():
    assert film_title("count_of_monte_cristo_the") == "The Count of Monte Cristo"
    assert film_title("the_count_of_monte_cristo") == "The Count of Monte Cristo"
    assert film_title("about_a_boy") == "About a Boy"
    assert film_title("mies_vailla_menneisyytt%e4") == "Mies Vailla Menneisyyttä"
    assert film_title("santa_clause_2_the") == "The Santa Clause 2"


def test_rt_sentiment_split_keeps_films_apart_and_is_deterministic():
    cfg = data(source="rt_sentiment", eval_fraction=0.1)
    train, evals = load_records(cfg)
    assert len(train) + len(evals) == len(load_rt_pairs())
    train_films, eval_films = {p.group for p in train}, {p.group for p in evals}
    assert not train_films & eval_films
    assert round(0.1 * (len(train_films) + len(eval_films))) == len(eval_films)
    assert load_records(cfg) == (train, evals)
    other_train, other_evals = load_records(data(source="rt_sentiment", eval_fraction=0.1, split_seed=1))
    assert {p.group for p in other_evals} != eval_films


def test_rt_sentiment_max_train_and_max_eval():
    full_train, full_evals = load_records(data(source="rt_sentiment"))
    cfg = data(source="rt_sentiment", max_train=100, max_eval=64)
    train, evals = load_records(cfg)
    assert (len(train), len(evals)) == (100, 64)
    assert all(p in full_train for p in train) and all(p in full_evals for p in evals)
    assert load_records(cfg) == (train, evals)
    assert native_record_type(cfg).__name__ == "PreferencePair"


# --- source=file: each format ---------------------------------------------------------------------

def test_standard_jsonl_with_scores():
    train, evals = load_records(file_cfg(FIXTURES / "pairs.jsonl"))
    assert evals == [] and len(train) == 8
    assert train[0] == PreferencePair(prompt="The capital of France is", chosen=" Paris.", rejected=" Berlin.",
                                      score_chosen=1.0, score_rejected=0.0, group="The capital of France is")


def test_file_hold_out_by_prompt():
    train, evals = load_records(file_cfg(FIXTURES / "pairs.jsonl", eval_fraction=0.25))
    assert (len(train), len(evals)) == (6, 2)
    assert not {p.prompt for p in train} & {p.prompt for p in evals}


def test_csv_with_columns_mapping_and_group_column():
    mapping = {"prompt": "question", "chosen": "good", "rejected": "bad", "group": "topic"}
    cfg = file_cfg(FIXTURES / "pairs.csv", columns=mapping, eval_fraction=0.34)
    train, evals = load_records(cfg)
    everything = train + evals
    assert len(everything) == 6 and len({p.group for p in evals}) == 1
    assert not {p.group for p in train} & {p.group for p in evals}
    bees = next(p for p in everything if p.prompt == "What do bees make?")
    assert bees == PreferencePair(prompt="What do bees make?", chosen="Honey, from flower nectar.", rejected="Milk.",
                                  group="animals")


def test_conversational_with_prompt_column():
    train, _ = load_records(file_cfg(FIXTURES / "conversational.jsonl"))
    assert len(train) == 4
    first = train[0]
    assert first.prompt == [{"role": "system", "content": "You are a concise assistant."},
                            {"role": "user", "content": "What is the boiling point of water?"}]
    assert first.chosen == assistant("100 °C at sea level.")
    assert first.rejected == assistant("It depends on the kettle.")
    assert first.group == "What is the boiling point of water?"


def test_conversational_full_conversations_share_the_prompt():
    explicit, _ = load_records(file_cfg(FIXTURES / "conversational.jsonl"))
    implicit, _ = load_records(file_cfg(FIXTURES / "conversational_implicit.jsonl", format="conversational"))
    assert implicit == explicit
    multi = implicit[2]
    assert multi.prompt[-1] == {"role": "user", "content": "What's 9 squared?"} and len(multi.prompt) == 3
    assert (multi.chosen, multi.rejected) == (assistant("81."), assistant("18."))


def test_transcript_file_is_detected_and_parsed():
    train, _ = load_records(file_cfg(FIXTURES / "hh_rlhf.jsonl"))
    assert len(train) == 6
    assert train[1] == PreferencePair(prompt=user("How many ounces are in a cup?"),
                                      chosen=assistant("A US cup holds 8 fluid ounces."),
                                      rejected=assistant("I'm not sure, maybe 12?"),
                                      group="How many ounces are in a cup?")
    multi = train[2]
    assert [m["role"] for m in multi.prompt] == ["user", "assistant", "user"]
    assert multi.prompt[2]["content"] == "She loves hiking and she just moved to Denver."
    assert multi.rejected == assistant("Happy birthday.")


def test_parquet_with_message_lists(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"prompt": user(f"Question {i}?"), "chosen": assistant(f"Good answer {i}."),
             "rejected": assistant(f"Bad answer {i}.")} for i in range(5)]
    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    train, evals = load_records(file_cfg(path, eval_fraction=0.2, split_seed=3))
    assert (len(train), len(evals)) == (4, 1)
    record = next(p for p in train + evals if p.group == "Question 3?")
    assert record.prompt == user("Question 3?") and record.chosen == assistant("Good answer 3.")
    assert type(record.chosen) is list and type(record.chosen[0]) is dict


def test_json_list_and_gzipped_jsonl_read_like_jsonl(tmp_path):
    import gzip

    text = (FIXTURES / "pairs.jsonl").read_text()
    expected, _ = load_records(file_cfg(FIXTURES / "pairs.jsonl"))
    as_json = tmp_path / "pairs.json"
    as_json.write_text(json.dumps([json.loads(line) for line in text.splitlines()]))
    as_gzip = tmp_path / "pairs.jsonl.gz"
    with gzip.open(as_gzip, "wt", encoding="utf-8") as handle:
        handle.write(text)
    assert load_records(file_cfg(as_json))[0] == expected
    assert load_records(file_cfg(as_gzip))[0] == expected


def test_plain_strings_without_a_prompt_column(tmp_path):
    path = tmp_path / "noprompt.jsonl"
    path.write_text('{"question": "p", "chosen": "a", "rejected": "b"}\n')
    with pytest.raises(UserError, match=r'noprompt.jsonl line 1: no "prompt" column.*\+data.columns.prompt=COLUMN'):
        load_records(file_cfg(path))


# --- hub sources, on local copies in the hub schema ------------------------------------------------

def test_hh_rlhf_local_file():
    cfg = data(source="hh_rlhf", path=str(FIXTURES / "hh_rlhf.jsonl"), split="train", eval_split="test",
               eval_fraction=0.2)
    train, evals = load_records(cfg)
    assert (len(train), len(evals)) == (5, 1)  # one file is one split: eval_fraction is held out
    canberra = next(p for p in train + evals if p.group == "What's the capital of Australia?")
    assert (canberra.chosen, canberra.rejected) == (assistant("Canberra."), assistant("Sydney."))


def test_hh_rlhf_local_folder_reads_both_splits(tmp_path, monkeypatch):
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "hh-rlhf"
    folder.mkdir()
    lines = (FIXTURES / "hh_rlhf.jsonl").read_text().splitlines()
    (folder / "train.jsonl").write_text("\n".join(lines[:4]) + "\n")
    (folder / "test.jsonl").write_text("\n".join(lines[4:]) + "\n")
    train, evals = load_records(data(source="hh_rlhf", path=str(folder), split="train", eval_split="test"))
    assert (len(train), len(evals)) == (4, 2)
    assert evals[0].chosen == assistant("Canberra.")
    with pytest.raises(UserError, match="data.eval_split=validation"):
        load_records(data(source="hh_rlhf", path=str(folder), split="train", eval_split="validation"))


def test_hh_rlhf_skips_unreadable_transcripts(tmp_path, caplog):
    path = tmp_path / "hh.jsonl"
    good = (FIXTURES / "hh_rlhf.jsonl").read_text()
    bad = json.dumps({"chosen": "\n\nHuman: Hello?\n\nAssistant:", "rejected": "\n\nHuman: Hello?\n\nAssistant: Hi."})
    path.write_text(good + bad + "\n")
    train, _ = load_records(data(source="hh_rlhf", path=str(path), eval_fraction=0.0))
    assert len(train) == 6
    assert "skipped 1 of 7 records" in caplog.text
    with pytest.raises(UserError, match=r"hh.jsonl line 7: the final Assistant: turn of chosen is empty"):
        load_records(file_cfg(path))  # source=file is strict


def test_ultrafeedback_local_file():
    train, _ = load_records(data(source="ultrafeedback", path=str(FIXTURES / "ultrafeedback.jsonl"), eval_fraction=0.0))
    assert len(train) == 6
    assert train[1] == PreferencePair(prompt=user("What is 17 * 23?"), chosen=assistant("17 * 23 = 391."),
                                      rejected=assistant("17 * 23 = 401."), score_chosen=10.0, score_rejected=2.0,
                                      group=f"{1:064x}")


def test_hub_unreachable_says_to_pass_a_local_file(monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match=r"data.path=Anthropic/hh-rlhf: cannot load split train .*data.path=FILE"):
        load_records(data(source="hh_rlhf", path="Anthropic/hh-rlhf", split="train", eval_split="test"))


# --- errors ---------------------------------------------------------------------------------------

PAIRS_FILE = str(FIXTURES / "pairs.jsonl")


@pytest.mark.parametrize("fields, message", [
    ({"source": "rotten"}, r"data.source=rotten is not a known source; choose one of file, .*rt_sentiment"),
    ({"source": "file"}, r"data.path is required for data.source=file"),
    ({"source": "file", "path": "/no/such/pairs.jsonl"}, r"data.path=/no/such/pairs.jsonl: no such file"),
    ({"source": "file", "path": PAIRS_FILE, "columns": {"answer": "good"}}, r"data.columns.answer: answer is not a"),
    ({"source": "file", "path": PAIRS_FILE, "eval_split": "test"}, r"data.eval_split=test names a hub split"),
    ({"source": "rt_sentiment", "path": "x.jsonl"}, r"data.path=x.jsonl does not apply to data.source=rt_sentiment"),
    ({"source": "rt_sentiment", "eval_fraction": 1.0}, r"data.eval_fraction=1.0 must be at least 0 and below 1"),
    ({"source": "hh_rlhf", "path": "./hh/train.jsonl"}, r"data.path=./hh/train.jsonl: no such file"),
    ({"source": "ultrafeedback", "path": str(FIXTURES / "ultrafeedback.jsonl"), "format": "standard"},
     r"data.format=standard: data.source=ultrafeedback"),
])
def test_check_source_errors(fields, message):
    with pytest.raises(UserError, match=message):
        check_source(data(**fields))


def test_missing_path_in_yaml_is_reported():
    from conftest import compose

    cfg = compose(["data=jsonl", "model=tiny"]).data  # conf/data/jsonl.yaml leaves data.path empty
    assert cfg.path is None
    with pytest.raises(UserError, match="data.path is required"):
        check_source(cfg)


def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_column_names_file_line_and_fix(tmp_path):
    text = '{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "q", "good": "a", "rejected": "b"}\n'
    path = write(tmp_path, "pairs.jsonl", text)
    expected = r'pairs.jsonl line 2: no "chosen" field for chosen .*map it with \+data.columns.chosen=COLUMN'
    with pytest.raises(UserError, match=expected):
        load_records(file_cfg(path))


def test_mapped_column_missing(tmp_path):
    expected = r'pairs.csv row 1: no "answer" field for chosen .*data.columns.chosen=answer names a column it lacks'
    mapping = {"prompt": "question", "chosen": "answer", "rejected": "bad"}
    with pytest.raises(UserError, match=expected):
        load_records(file_cfg(FIXTURES / "pairs.csv", columns=mapping))


def test_csv_without_mapping_says_how_to_map():
    expected = (r'pairs.csv row 1: no "chosen" field for chosen \(it has: question, good, bad, topic\); '
                r'map it with \+data.columns.chosen=COLUMN')
    with pytest.raises(UserError, match=expected):
        load_records(file_cfg(FIXTURES / "pairs.csv"))


def test_bad_json_line(tmp_path):
    path = write(tmp_path, "broken.jsonl", '{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "q", \n')
    with pytest.raises(UserError, match=r"broken.jsonl line 2: not valid JSON"):
        load_records(file_cfg(path))


def test_empty_chosen_and_wrong_kind(tmp_path):
    path = write(tmp_path, "empty.jsonl", '{"prompt": "p", "chosen": "  ", "rejected": "b"}\n')
    with pytest.raises(UserError, match=r"empty.jsonl line 1: chosen is empty"):
        load_records(file_cfg(path))
    expected = r"conversational.jsonl line 1: prompt is a message list, but data.format=standard"
    with pytest.raises(UserError, match=expected):
        load_records(file_cfg(FIXTURES / "conversational.jsonl", format="standard"))


def test_empty_and_unreadable_files(tmp_path):
    with pytest.raises(UserError, match=r"empty.jsonl holds no records"):
        load_records(file_cfg(write(tmp_path, "empty.jsonl", "\n")))
    same = write(tmp_path, "same.jsonl", '{"prompt": "p", "chosen": "a", "rejected": "a"}\n')
    with pytest.raises(UserError, match=r"same.jsonl line 1: chosen equals rejected"):
        load_records(file_cfg(same))
    with pytest.raises(UserError, match=r"same.jsonl gave no usable preference pairs"):
        load_records(file_cfg(same, on_bad_record="skip"))
    with pytest.raises(UserError, match=r"bad.parquet: not a readable Parquet file"):
        load_records(file_cfg(write(tmp_path, "bad.parquet", "not parquet")))
    with pytest.raises(UserError, match=r"data.path=.*pairs.xml: unknown file type"):
        check_source(file_cfg(write(tmp_path, "pairs.xml", "x")))


def test_transcripts_that_differ_before_the_reply(tmp_path):
    row = {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!", "rejected": "\n\nHuman: Hey\n\nAssistant: Go away."}
    path = write(tmp_path, "hh.jsonl", json.dumps(row) + "\n")
    expected = r"hh.jsonl line 1: chosen and rejected differ before their final Assistant: turn"
    with pytest.raises(UserError, match=expected):
        load_records(file_cfg(path))


def test_one_group_cannot_be_held_out(tmp_path):
    path = write(tmp_path, "one.jsonl", '{"prompt": "p", "chosen": "a", "rejected": "b"}\n')
    with pytest.raises(UserError, match=r"data=file has 1 group.*data.eval_fraction=0"):
        load_records(file_cfg(path, eval_fraction=0.1))
    assert os.path.exists(path)


@pytest.mark.parametrize("name, kind, record", [("pairs.jsonl", "jsonl", "PreferencePair"),
                                                ("ranked.jsonl", "jsonl", "Ranked"),
                                                ("wiki1m.txt", "text (one record a line)", "Sentence")])
def test_a_file_says_in_one_line_how_it_was_read(name, kind, record, capsys):
    from conftest import FIXTURES

    path = FIXTURES / "data" / name
    rows = sum(1 for line in path.read_text().splitlines() if line.strip())
    load_records(data(source="file", path=str(path), eval_fraction=0.0))
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Data: ")]
    assert said == [f"Data: {path}: a {kind} file of {rows} rows, read as {record} records (detected from its "
                    "columns)"]  # fmt: skip
