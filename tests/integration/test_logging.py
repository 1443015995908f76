"""The W&B logger writes an offline run whose history holds the training loss; logger=none writes none."""

from __future__ import annotations

import json
import struct
import time

import pytest
from conftest import compose

from contrastlab.app.pipeline import run

TINY = ["model=tiny", "name=test", "train.max_steps=3", "data.max_train=16", "data.max_eval=4", "save_model=false"]


def _records(run_file):
    """Every record of a .wandb file. W&B 0.31 ships no Python reader: the file is a LevelDB-style log
    (a 7-byte file header, 32 KiB blocks, each chunk headed by checksum u32, length u16, type u8)."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos, pending, out = run_file.read_bytes(), 32768, 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 2):  # full, first
            pending = chunk
        elif kind in (3, 4):  # middle, last
            pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def _history(records):
    return [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
            for r in records if r.WhichOneof("record_type") == "history"]  # fmt: skip


@pytest.mark.slow
def test_wandb_offline_history_holds_the_training_loss(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = compose(["logger=wandb", *TINY])
    run(cfg, run_dir=tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    logged = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    for _ in range(20):  # on a loaded machine W&B's service may still be writing the file after finish()
        records = _records(next(runs[0].glob("*.wandb")))
        losses = [row["train/loss"] for row in _history(records) if "train/loss" in row]
        if len(losses) >= 3:
            break
        time.sleep(0.5)
    assert losses == [row["train/loss"] for row in logged if "train/loss" in row]
    assert len(losses) == 3
    config = {item.key: json.loads(item.value_json) for r in records if r.WhichOneof("record_type") == "run"
              for item in r.run.config.update}  # fmt: skip
    assert config["objective"]["name"] == "dpo" and config["data"]["name"] == "rt_sentiment"  # the whole config
    assert config["train"]["max_steps"] == 3


@pytest.mark.slow
def test_logger_none_writes_no_wandb_files(tmp_path):
    run(compose(["logger=none", *TINY]), run_dir=tmp_path)
    assert not (tmp_path / "wandb").exists()
    assert (tmp_path / "log.jsonl").exists() and (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_a_sweep_logs_one_finished_wandb_run_per_job_in_one_group(tmp_path, monkeypatch):
    from conftest import run_cli

    monkeypatch.delenv("WANDB_MODE", raising=False)
    sweep = tmp_path / "sweep"
    out = run_cli(["-m", "logger=wandb", "objective.beta=0.1,0.3", *TINY, "eval.generate=true", "eval.num_prompts=2",
                   "eval.num_samples=1", "eval.max_new_tokens=4", f"hydra.sweep.dir={sweep}"])  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(jobs) == 2
    starts, ends = [], []
    for job in jobs:
        runs = list((job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1  # one W&B run per job, in the job's folder
        for _ in range(20):  # W&B's service may still be writing the file just after finish()
            records = _records(next(runs[0].glob("*.wandb")))
            kinds = [r.WhichOneof("record_type") for r in records]
            if "exit" in kinds:
                break
            time.sleep(0.5)
        assert "exit" in kinds  # finished
        run_record = next(r.run for r in records if r.WhichOneof("record_type") == "run")
        assert run_record.run_group == sweep.name  # every job in the sweep's group
        starts.append(run_record.start_time.seconds)
        ends.append(max(r.exit.runtime + run_record.start_time.seconds for r in records
                        if r.WhichOneof("record_type") == "exit"))  # fmt: skip
        summary = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for r in records
                   if r.WhichOneof("record_type") == "summary" for item in r.summary.update}  # fmt: skip
        metrics = json.loads((job / "metrics.json").read_text())
        assert summary["after/pref_accuracy"] == pytest.approx(metrics["after/pref_accuracy"])
        assert summary["after/gen_kl"] == pytest.approx(metrics["after/gen_kl"])
        tables = [row for row in _history(records) if "gen/samples/_type" in row]  # the samples as a W&B table
        assert tables and tables[0]["gen/samples/_type"] == "table-file" and tables[0]["gen/samples/nrows"] == 2
    assert ends[0] <= starts[1]  # the first job's run finished before the second's started
