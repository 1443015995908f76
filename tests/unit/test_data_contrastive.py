"""Data for contrastive objectives: the Lee corpus, the similarity benchmarks, the text hub schemas, sentence files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import data, file_cfg

from contrastlab.data.records.scored_pair import ScoredPair
from contrastlab.data.records.sentence import Sentence
from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.data.benchmarks import load_benchmark
from contrastlab.data.sources import check_source, load_records, native_record_type
from contrastlab.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
NLI = FIXTURES / "all_nli_triplet.jsonl"
STSB = FIXTURES / "stsb.jsonl"
WIKI = FIXTURES / "wiki1m.txt"




def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- lee: real, offline, from the gensim package ---------------------------------------------------

def test_lee_background_gives_300_sentences():
    cfg = data(source="lee", eval_fraction=0.0)
    train, evals = load_records(cfg)
    assert (len(train), len(evals)) == (300, 0)
    assert all(isinstance(s, Sentence) and s.text == s.text.strip() and s.text for s in train)
    assert [s.group for s in train[:2]] == ["lee_background:0", "lee_background:1"]
    assert train[0].text.startswith("Hundreds of people have been forced to vacate their homes in the Southern")
    assert native_record_type(cfg).__name__ == "Sentence"


def test_lee_hold_out_keeps_documents_apart_and_is_deterministic():
    cfg = data(source="lee", eval_fraction=0.1, split_seed=0)
    train, evals = load_records(cfg)
    assert (len(train), len(evals)) == (270, 30)  # 10% of 300 one-document groups
    assert not {s.group for s in train} & {s.group for s in evals}
    assert load_records(cfg) == (train, evals)


def test_lee_benchmark_is_the_upper_triangle_of_the_human_matrix():
    pairs = load_benchmark(data(source="lee", benchmark="lee"))
    assert len(pairs) == 1225 == 50 * 49 // 2
    assert all(isinstance(p, ScoredPair) and 0.0 <= p.score <= 1.0 for p in pairs)
    assert min(p.score for p in pairs) == 0.2 and max(p.score for p in pairs) == 1.0
    # read by hand from similarities0-1.txt: row 0 = "1 0.3 0.24 ...", row 0 column 32 = 0.96, row 3 column 10 = 0.66
    first, democrats = pairs[0], pairs[31]
    assert (first.group, first.score) == ("lee:0-1", 0.3)
    assert first.text1.startswith("The national executive of the strife-torn Democrats last night appointed")
    assert first.text2.startswith("Cash-strapped financial services group AMP has shelved a $400 million plan")
    assert (democrats.group, democrats.score) == ("lee:0-32", 0.96)  # both documents: the Democrats' leadership
    assert democrats.text2.startswith("At least three Democrats are considering splitting from the party")
    assert next(p for p in pairs if p.group == "lee:3-10").score == 0.66
    assert pairs[-1].group == "lee:48-49"
    assert "his £3,000 satelite tracking device" in next(p.text1 for p in pairs if p.group.startswith("lee:40-"))


def test_word_benchmarks_counts_and_scores():
    wordsim = load_benchmark(data(source="lee", benchmark="wordsim353"))
    simlex = load_benchmark(data(source="lee", benchmark="simlex999"))
    assert (len(wordsim), len(simlex)) == (353, 999)
    assert wordsim[1] == ScoredPair(text1="tiger", text2="cat", score=0.735, group="wordsim353:4")
    assert next(p.score for p in wordsim if (p.text1, p.text2) == ("tiger", "tiger")) == 1.0
    assert (simlex[0].text1, simlex[0].text2, simlex[0].score) == ("old", "new", 0.158)
    assert (simlex[1].text1, simlex[1].text2, simlex[1].score) == ("smart", "intelligent", 0.92)
    assert all(0.0 <= p.score <= 1.0 for p in wordsim + simlex)


def test_no_benchmark_gives_nothing():
    assert load_benchmark(data(source="lee")) == []


# --- hub schemas, on local copies ------------------------------------------------------------------

def test_nli_local_file_gives_triplets_grouped_by_anchor():
    cfg = data(source="nli", path=str(NLI), eval_fraction=0.0)
    train, evals = load_records(cfg)
    assert (len(train), len(evals)) == (8, 0)
    assert train[0] == SentencePair(anchor="A person on a horse jumps over a broken down airplane.",
                                    positive="A person is outdoors, on a horse.",
                                    negative="A person is at a diner, ordering an omelette.",
                                    group="A person on a horse jumps over a broken down airplane.")
    assert all(p.negative for p in train)
    assert native_record_type(cfg).__name__ == "SentencePair"


def test_nli_one_file_holds_out_anchors_instead_of_eval_split():
    cfg = data(source="nli", path=str(NLI), split="train", eval_split="dev", eval_fraction=0.3)
    train, evals = load_records(cfg)
    assert len(train) + len(evals) == 8 and len({p.anchor for p in evals}) == 2  # round(0.3 * 7 anchors)
    assert not {p.anchor for p in train} & {p.anchor for p in evals}


def test_nli_local_folder_of_the_triplet_subset(tmp_path, monkeypatch):
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    lines = NLI.read_text().splitlines()
    subset = tmp_path / "all-nli" / "triplet"
    subset.mkdir(parents=True)
    (subset / "train.jsonl").write_text("\n".join(lines[:6]) + "\n")
    (subset / "test.jsonl").write_text("\n".join(lines[6:]) + "\n")
    train, evals = load_records(data(source="nli", path=str(tmp_path / "all-nli"), eval_split="test"))
    assert (len(train), len(evals)) == (6, 2)
    assert evals[1].positive == "A man is drinking juice."


def test_nli_local_snapshot_of_the_hub_repository(tmp_path, monkeypatch):
    import datasets.config
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    snapshot = tmp_path / "all-nli"
    rows = [json.loads(line) for line in NLI.read_text().splitlines()]
    card = ["---", "configs:"]
    for subset, keep in (("pair", ("anchor", "positive")), ("triplet", ("anchor", "positive", "negative"))):
        (snapshot / subset).mkdir(parents=True)
        card += [f"- config_name: {subset}", "  data_files:"]
        for split, part in (("train", rows[:5]), ("dev", rows[5:])):
            table = pa.Table.from_pylist([{key: row[key] for key in keep} for row in part])
            pq.write_table(table, snapshot / subset / f"{split}-00000-of-00001.parquet")
            card += [f"  - split: {split}", f"    path: {subset}/{split}-*"]
    (snapshot / "README.md").write_text("\n".join(card + ["---", ""]))
    train, evals = load_records(data(source="nli", path=str(snapshot), eval_split="dev"))
    assert (len(train), len(evals)) == (5, 3) and all(p.negative for p in train + evals)  # the triplet subset


def test_stsb_keeps_pairs_at_or_above_the_threshold():
    train, _ = load_records(data(source="stsb", path=str(STSB), eval_fraction=0.0))
    # scores in the file: 1.0 0.76 0.76 0.52 0.85 0.85 0.1 0.32 0.44 1.0 -> four reach 0.8
    assert [p.anchor for p in train] == ["A plane is taking off.", "A man is playing the cello.",
                                         "Some men are fighting.", "A person is throwing a cat on to the ceiling."]
    assert train[0] == SentencePair(anchor="A plane is taking off.", positive="An air plane is taking off.",
                                    negative=None, group="A plane is taking off.")
    looser, _ = load_records(data(source="stsb", path=str(STSB), eval_fraction=0.0, positive_threshold=0.75))
    strict, _ = load_records(data(source="stsb", path=str(STSB), eval_fraction=0.0, positive_threshold=1.0))
    assert (len(looser), len(strict)) == (6, 2)
    assert native_record_type(data(source="stsb", path=str(STSB))).__name__ == "SentencePair"


def test_stsb_threshold_no_pair_reaches(tmp_path):
    path = write(tmp_path, "low.jsonl", json.dumps({"sentence1": "a", "sentence2": "b", "score": 0.3}) + "\n")
    with pytest.raises(UserError, match=r"low.jsonl: no pair scores at least data.positive_threshold=0.8 "
                                        r"\(the highest is 0.3\); lower data.positive_threshold"):
        load_records(data(source="stsb", path=str(path), eval_fraction=0.0))


def test_stsb_benchmark_from_a_local_file_keeps_every_pair():
    pairs = load_benchmark(data(source="lee", benchmark="stsb", benchmark_path=str(STSB)))
    assert len(pairs) == 10 and [p.score for p in pairs][:4] == [1.0, 0.76, 0.76, 0.52]
    assert pairs[6] == ScoredPair(text1="A man is smoking.", text2="A man is skating.", score=0.1,
                                  group="A man is smoking.")


def test_stsb_scores_must_be_scaled(tmp_path):
    rows = [{"sentence1": "a", "sentence2": "b", "score": 0.5}, {"sentence1": "c", "sentence2": "d", "score": 4.2}]
    path = write(tmp_path, "sts05.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=r"sts05.jsonl line 2: score is 4.2, outside \[0, 1\].*divide them by 5"):
        load_benchmark(data(source="lee", benchmark="stsb", benchmark_path=str(path)))


def test_wiki1m_local_txt_one_sentence_a_line():
    cfg = data(source="wiki1m", path=str(WIKI), eval_fraction=0.0)
    train, _ = load_records(cfg)
    assert len(train) == 8  # nine lines, one blank
    assert train[0] == Sentence(text="YMCA in South Australia", group="YMCA in South Australia")
    assert train[3].text == "The first general secretary was appointed in 1878."
    assert native_record_type(cfg).__name__ == "Sentence"


def test_hub_text_sources_offline_fail_at_once_with_the_fix(monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    import contrastlab.data.hub as hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)  # as when the hub's host does not resolve
    start = time.monotonic()
    with pytest.raises(UserError, match=r"data.path=sentence-transformers/all-nli: cannot load split train from the "
                                        r"Hugging Face hub \(the hub's host does not resolve from here, .*\); .*"
                                        r"local file in the nli schema with data.path=FILE"):
        load_records(data(source="nli", path="sentence-transformers/all-nli"))
    with pytest.raises(UserError, match=r"data.benchmark_path=sentence-transformers/stsb: cannot load split test .*"
                                        r"data.benchmark_path=FILE"):
        load_benchmark(data(source="lee", benchmark="stsb"))
    assert time.monotonic() - start < 15  # not the ~25 s of retries per dataset
    assert datasets.config.HF_HUB_OFFLINE is False and huggingface_hub.constants.HF_HUB_OFFLINE is False


# --- data.source=file: sentences, pairs, triplets ----------------------------------------------------

def test_file_of_texts_gives_sentences():
    cfg = file_cfg(FIXTURES / "sentences.jsonl", eval_fraction=0.5)
    train, evals = load_records(cfg)
    assert len(train) == len(evals) == 3 and all(isinstance(s, Sentence) for s in train + evals)
    assert Sentence(text="The cat sat on the mat.", group="The cat sat on the mat.") in train + evals
    assert native_record_type(cfg).__name__ == "Sentence"


def test_txt_file_gives_sentences():
    cfg = file_cfg(WIKI)
    check_source(cfg)
    assert native_record_type(cfg).__name__ == "Sentence"
    assert [s.text for s in load_records(cfg)[0]] == [line for line in WIKI.read_text().splitlines() if line]


def test_file_of_triplets_and_mapped_pairs():
    triplets = file_cfg(NLI)
    assert native_record_type(triplets).__name__ == "SentencePair"
    assert load_records(triplets)[0] == load_records(data(source="nli", path=str(NLI), eval_fraction=0.0))[0]
    mapping = {"anchor": "question", "positive": "answer", "group": "topic"}
    pairs = file_cfg(FIXTURES / "sentence_pairs.csv", columns=mapping, eval_fraction=0.34)
    assert native_record_type(pairs).__name__ == "SentencePair"
    train, evals = load_records(pairs)
    assert len(train + evals) == 5 and len({p.group for p in evals}) == 1
    bees = next(p for p in train + evals if p.anchor == "How do bees make honey?")
    assert bees == SentencePair(anchor="How do bees make honey?", positive="Bees turn flower nectar into honey.",
                                negative=None, group="animals")


def test_native_record_type_reads_only_the_first_row(tmp_path):
    path = write(tmp_path, "big.jsonl", '{"text": "first"}\n{"text": broken\n')
    assert native_record_type(file_cfg(path)).__name__ == "Sentence"
    with pytest.raises(UserError, match=r"big.jsonl line 2: not valid JSON"):
        load_records(file_cfg(path))
    assert native_record_type(file_cfg(FIXTURES / "pairs.jsonl")).__name__ == "PreferencePair"
    assert native_record_type(file_cfg(FIXTURES / "sentences.jsonl", format="standard")).__name__ == "PreferencePair"


def test_parquet_header_decides_the_record_type(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist([{"anchor": f"q{i}", "positive": f"a{i}", "negative": None}
                                         for i in range(3)]), path)
    assert native_record_type(file_cfg(path)).__name__ == "SentencePair"
    assert load_records(file_cfg(path))[0][2] == SentencePair(anchor="q2", positive="a2", negative=None, group="q2")


# --- errors ---------------------------------------------------------------------------------------

def test_missing_text_names_file_line_and_fix(tmp_path):
    path = write(tmp_path, "texts.jsonl", '{"text": "one"}\n{"sentence": "two"}\n')
    with pytest.raises(UserError, match=r'texts.jsonl line 2: no "text" field for text \(it has: sentence\); '
                                        r"map it with \+data.columns.text=COLUMN"):
        load_records(file_cfg(path))


def test_empty_text_and_anchor_without_positive(tmp_path):
    path = write(tmp_path, "texts.jsonl", '{"text": "one"}\n{"text": "  "}\n')
    with pytest.raises(UserError, match=r"texts.jsonl line 2: text is empty; give every record a non-empty text"):
        load_records(file_cfg(path))
    path = write(tmp_path, "half.jsonl", '{"anchor": "q", "answer": "a"}\n')
    expected = r'half.jsonl line 1: a "anchor" column for anchor but no "positive" column for positive; .*positive=COL'
    with pytest.raises(UserError, match=expected):
        native_record_type(file_cfg(path))


def test_unknown_columns_say_what_each_kind_needs(tmp_path):
    path = write(tmp_path, "odd.jsonl", '{"sentence": "x"}\n')
    with pytest.raises(UserError, match=r'odd.jsonl line 1: no "chosen" field .*\+data.columns.text=COLUMN'):
        native_record_type(file_cfg(path))


@pytest.mark.parametrize("fields, message", [
    ({"source": "lee", "positive_threshold": 1.5}, r"data.positive_threshold=1.5 must lie in \[0, 1\]"),
    ({"source": "lee", "benchmark": "stsb", "benchmark_path": "./sts/test.jsonl"},
     r"data.benchmark_path=./sts/test.jsonl: no such file"),
    ({"source": "lee", "benchmark": "stsb", "benchmark_split": "dev"}, r"data.benchmark_split=dev: .* no such split"),
    ({"source": "lee", "path": "x.txt"}, r"data.path=x.txt does not apply to data.source=lee"),
    ({"source": "nli"}, r"data.path is required for data.source=nli: the hub id \(data.path=sentence-transformers"),
    ({"source": "nli", "path": "./nli.jsonl"}, r"data.path=./nli.jsonl: no such file"),
    ({"source": "stsb", "path": str(STSB), "format": "standard"}, r"data.format=standard: data.source=stsb is read in the sentence-transformers/stsb schema"),
    ({"source": "wiki1m", "path": str(WIKI), "eval_split": "test"}, r"data.eval_split=test: princeton-nlp/datasets-for-simcse has one split \(train\)"),
    ({"source": "file", "path": str(FIXTURES / "pairs.jsonl"), "columns": {"sentence": "s"}},
     r"data.columns.sentence: sentence is not a record field; map one of .*text, anchor, positive, negative"),
    ({"source": "file", "path": str(WIKI), "format": "standard"}, r"data.format=standard reads preference files"),
])
def test_check_source_errors(fields, message):
    with pytest.raises(UserError, match=message):
        check_source(data(**fields))


def test_a_benchmark_file_alone_selects_the_file_benchmark():
    """data.benchmark_path without data.benchmark was ignored (the run then measured no benchmark): it reads the file
    as data.benchmark=stsb would."""
    alone = load_benchmark(data(source="lee", benchmark_path=str(STSB)))
    assert alone == load_benchmark(data(source="lee", benchmark="stsb", benchmark_path=str(STSB)))
    assert len(alone) == 10
