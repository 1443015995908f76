"""Bad input as a user meets it: a corpus of malformed files and configs (tests/fixtures/bad/), each ending the run
with exit code 2 and one line naming the file, the line and the field (or the option), no traceback, and no earlier
run folder touched; with data.on_bad_record=skip the same files train, the bad records skipped and counted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FIXTURES, compose, run_cli

from contrastlab.data.sources import load_records
from contrastlab.errors import UserError

BAD = FIXTURES / "bad"


def tiny(args: list[str]) -> list[str]:
    """`args` with model=tiny (unless they pick a model) and no logger."""
    model = [] if any(arg.startswith("model=") for arg in args) else ["model=tiny"]
    return [*model, "logger=none", *args]


def jsonl(name: str) -> list[str]:
    return ["data=jsonl", f"data.path={BAD / name}"]


# (id, overrides, fragments the one line holds): every case of the issue (bad fields, chosen = rejected, values
# that are not text, broken JSON, wrong encodings, empty data, bad options), for each record type
CASES = [
    ("empty-field", jsonl("empty_chosen.jsonl"), ["empty_chosen.jsonl line 3: chosen is empty",
                                                  "data.on_bad_record=skip"]),
    ("missing-field", jsonl("missing_rejected.jsonl"), ['missing_rejected.jsonl line 2: no "rejected" field',
                                                        "+data.columns.rejected=COLUMN"]),
    ("chosen-equals-rejected", jsonl("chosen_equals_rejected.jsonl"),
     ["chosen_equals_rejected.jsonl line 2: chosen equals rejected", "give two different completions"]),
    ("not-text", jsonl("not_text.jsonl"), ["not_text.jsonl line 2: chosen is 42 (int), not text"]),
    ("broken-json-line", jsonl("broken_json.jsonl"), ["broken_json.jsonl line 3: not valid JSON",
                                                      "one JSON object"]),
    ("json-line-not-an-object", jsonl("not_an_object.jsonl"), ["not_an_object.jsonl line 2: a JSON list, not an "
                                                               "object"]),
    ("latin-1-jsonl", jsonl("latin1.jsonl"), ["latin1.jsonl line 2: not UTF-8 text (byte 0xe9",
                                              "re-save the file as UTF-8"]),
    ("utf-16-jsonl", jsonl("utf16.jsonl"), ["utf16.jsonl line 1: the file is UTF-16 text",
                                            "re-save the file as UTF-8"]),
    ("latin-1-csv", jsonl("latin1.csv"), ["latin1.csv line 3: not UTF-8 text", "re-save the file as UTF-8"]),
    ("latin-1-txt", ["objective=simcse", "model=tiny_encoder", *jsonl("latin1.txt")],
     ["latin1.txt line 2: not UTF-8 text", "re-save the file as UTF-8"]),
    ("empty-file", jsonl("empty.jsonl"), ["empty.jsonl holds no records", "data.path=FILE"]),
    ("empty-txt", ["objective=simcse", "model=tiny_encoder", *jsonl("empty.txt")], ["empty.txt holds no records"]),
    ("csv-header-only", ["objective=simcse", "model=tiny_encoder", *jsonl("header_only.csv")],
     ["header_only.csv holds no records"]),
    ("all-records-skipped", [*jsonl("all_bad.jsonl"), "data.on_bad_record=skip"],
     ["all_bad.jsonl gave no usable preference pairs", "all skipped: 2 empty chosen; 1 chosen equals rejected",
      "all_bad.jsonl line 1: chosen is empty"]),
    ("sentence-empty-text", ["objective=simcse", "model=tiny_encoder", *jsonl("empty_text.jsonl")],
     ["empty_text.jsonl line 2: text is empty"]),
    ("sentence-pair-null-positive", ["objective=infonce", "model=tiny_encoder", *jsonl("null_positive.jsonl")],
     ["null_positive.jsonl line 2: positive is empty (null)"]),
    ("forget-empty-completion", ["objective=npo", *jsonl("forget_empty_completion.jsonl")],
     ["forget_empty_completion.jsonl line 2: completion is empty"]),
    ("ranked-not-text", ["objective=lipo", *jsonl("ranked_not_text.jsonl")],
     ["ranked_not_text.jsonl line 2: completions is not a list of non-empty strings"]),
    ("multi-attribute-chosen-equals-rejected", ["objective=modpo", "objective.weights=[1,1]",
                                                *jsonl("multi_equal.jsonl")],
     ["multi_equal.jsonl line 2: chosen equals rejected"]),
    ("hub-file-with-error-policy", ["data=hh_rlhf", f"data.path={BAD / 'hh_empty_reply.jsonl'}",
                                    "data.on_bad_record=error"],
     ["hh_empty_reply.jsonl line 2: the final Assistant: turn of chosen is empty"]),
    ("unknown-on-bad-record", ["data.on_bad_record=ignore"], ["data.on_bad_record=ignore is not one of error, skip"]),
    ("zero-beta", ["objective.beta=0"], ["objective.beta=0.0 must be positive", "objective=dpo"]),
    ("negative-beta", ["objective=simpo", "objective.beta=-1"], ["objective.beta=-1.0 must be positive",
                                                                 "objective.beta=2.0"]),
    ("max-train-zero", ["data.max_train=0"], ["data.max_train=0 leaves nothing to train on"]),
    ("max-length-too-small", ["train.max_length=2"], ["train.max_length=2", "give at least 8"]),
    ("missing-data-file", ["data=jsonl", f"data.path={BAD / 'no_such.jsonl'}"], ["no_such.jsonl: no such file"]),
    ("data-path-is-a-folder", ["data=jsonl", f"data.path={BAD}"], ["is a folder", "data.source=file reads one"]),
    # the record-type mismatch is named, not a family's rule the wrong data breaks (data=lee holds nothing out)
    ("pairs-objective-on-sentences", ["objective=dpo", "data=lee"],
     ["objective=dpo needs PreferencePair records but data=lee gives Sentence records", "data=rt_sentiment"]),
    ("forget-objective-on-sentences", ["objective=npo", "data=lee"],
     ["objective=npo needs Forget records but data=lee gives Sentence records", "data=rt_forget"]),
    ("missing-local-model-folder", ["model=llama", "model.path=no/such/folder"],
     ["model.path=no/such/folder is a local folder that does not exist"]),
    ("ignored-benchmark-file", ["objective=simcse", "model=tiny_encoder", "data=lee", "data.benchmark=lee",
                                f"data.benchmark_path={BAD / 'sts.tsv'}"],
     ["would be ignored: data.benchmark=lee comes with gensim", "data.benchmark=stsb"]),
]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    """A finished earlier run's folder (config, log, metrics, weights), under outputs/ like a real one."""
    root = tmp_path_factory.mktemp("runs")
    folder = root / "outputs" / "dpo-tiny-jsonl" / "2025-01-01_00-00-00"
    (folder / ".hydra").mkdir(parents=True)
    (folder / "model").mkdir()
    (folder / ".hydra" / "config.yaml").write_text("objective:\n  name: dpo\n  beta: 0.1\n")
    (folder / "log.jsonl").write_text('{"step": 1, "train/loss": 0.69}\n{"step": 2, "train/loss": 0.68}\n')
    (folder / "metrics.json").write_text('{"after/pref_accuracy": 0.75}\n')
    (folder / "model" / "weights.bin").write_bytes(os.urandom(4096))
    return folder


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: relative path -> (bytes, mtime in ns)."""
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def earlier_snapshot(earlier_run) -> dict[str, tuple[bytes, int]]:
    return snapshot(earlier_run)


@pytest.mark.parametrize("args, fragments", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_exits_2_with_one_line(args, fragments, tmp_path, earlier_run, earlier_snapshot):
    new = tmp_path / "new"
    result = run_cli([*tiny(args), f"hydra.run.dir={new}"], cwd=earlier_run.parents[2])
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("contrastlab: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (new / "metrics.json").exists()
    assert snapshot(earlier_run) == earlier_snapshot


SKIPPED = [  # (file, what the warning says)
    ("empty_chosen.jsonl", "skipped 1 of 6 records (1 empty chosen)"),
    ("chosen_equals_rejected.jsonl", "skipped 1 of 6 records (1 chosen equals rejected)"),
    ("broken_json.jsonl", "skipped 1 of 6 records (1 bad JSON)"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, warning", SKIPPED, ids=[name.split(".")[0] for name, _ in SKIPPED])
def test_skip_trains_on_the_rest(name, warning, tmp_path, earlier_run, earlier_snapshot):
    new = tmp_path / "new"
    result = run_cli([*tiny(jsonl(name)), "data.on_bad_record=skip", "train.max_steps=1", "eval.before=false",
                      "data.max_eval=4", "save_model=false", f"hydra.run.dir={new}"], cwd=earlier_run.parents[2])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((new / "metrics.json").read_text())["train/steps"] == 1
    assert warning in (new / "run.log").read_text()
    assert "Traceback" not in result.stderr
    assert snapshot(earlier_run) == earlier_snapshot


@pytest.mark.parametrize("overrides, counts", [
    (jsonl("empty_chosen.jsonl"), {"data/skipped": 1, "data/skipped/empty_chosen": 1}),
    (jsonl("chosen_equals_rejected.jsonl"), {"data/skipped": 1, "data/skipped/chosen_equals_rejected": 1}),
    (jsonl("broken_json.jsonl"), {"data/skipped": 1, "data/skipped/bad_json": 1}),
    (jsonl("missing_rejected.jsonl"), {"data/skipped": 1, "data/skipped/missing_rejected": 1}),
    (jsonl("mixed.jsonl"), {"data/skipped": 5, "data/skipped/bad_json": 1, "data/skipped/empty_chosen": 1,
                            "data/skipped/chosen_equals_rejected": 1, "data/skipped/chosen_not_text": 1,
                            "data/skipped/empty_rejected": 1}),
    (["objective=simcse", "model=tiny_encoder", *jsonl("empty_text.jsonl")],
     {"data/skipped": 1, "data/skipped/empty_text": 1}),
    (["objective=npo", *jsonl("forget_empty_completion.jsonl")],
     {"data/skipped": 1, "data/skipped/empty_completion": 1}),
], ids=["empty-field", "chosen-equals-rejected", "broken-json", "missing-field", "mixed", "sentences", "forget"])
def test_skipped_records_are_counted(overrides, counts):
    cfg = compose([*tiny(overrides), "data.on_bad_record=skip", "data.eval_fraction=0.2"])
    found: dict = {}
    train, evals = load_records(cfg.data, found)
    assert found == counts
    read = sum(1 for line in Path(cfg.data.path).read_text().splitlines() if line.strip())
    kept = {id(record) for record in train + evals}  # forget records are in both
    assert len(kept) == read - counts["data/skipped"]


def test_hub_data_skips_by_default_and_a_clean_file_counts_nothing():
    hub = ["data=hh_rlhf", f"data.path={BAD / 'hh_empty_reply.jsonl'}", "data.eval_fraction=0.3"]
    found: dict = {}
    train, evals = load_records(compose(tiny(hub)).data, found)
    assert found == {"data/skipped": 1, "data/skipped/empty_chosen_reply": 1} and len(train) + len(evals) == 2
    with pytest.raises(UserError, match=r"hh_empty_reply.jsonl line 2: the final Assistant: turn of chosen is empty"):
        load_records(compose(tiny([*hub, "data.on_bad_record=error"])).data, {})
    clean: dict = {}
    load_records(compose(tiny(["data=jsonl", f"data.path={FIXTURES / 'data' / 'pairs.jsonl'}"])).data, clean)
    assert clean == {}
