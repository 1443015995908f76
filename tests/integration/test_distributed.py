"""Several processes on the CPU (gloo), started by run.py itself through accelerate: the same losses as one process
with the same global batch, one run folder written by rank 0 only, the evaluation gathered, sweeps, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli

pytestmark = pytest.mark.slow

STEPS = 3
TINY = ["model=tiny", "logger=none", f"train.max_steps={STEPS}", "data.max_eval=24", "eval.batch_size=4"]


def _losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    steps = [row["step"] for row in rows if "train/loss" in row]
    assert len(steps) == len(set(steps)), f"a step logged twice (only rank 0 may write): {steps}"
    return {row["step"]: row["train/loss"] for row in rows if "train/loss" in row}


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _ok(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _one_and_two(tmp_path: Path, overrides: list[str], batch: int, hardware: str = "ddp"):
    one, two = tmp_path / "one", tmp_path / "two"
    _ok(run_cli([*TINY, *overrides, "hardware=cpu", f"train.batch_size={2 * batch}", f"hydra.run.dir={one}"]))
    result = _ok(run_cli([*TINY, *overrides, f"hardware={hardware}", "hardware.num_processes=2",
                          f"train.batch_size={batch}", f"hydra.run.dir={two}"]))  # fmt: skip
    assert "Starting 2 process(es)" in result.stdout
    return one, two


def _assert_same_training(one: Path, two: Path, tol: float = 1e-4):
    a, b = _losses(one), _losses(two)
    assert sorted(a) == sorted(b) == list(range(1, STEPS + 1))
    for step in a:
        assert b[step] == pytest.approx(a[step], abs=tol), f"step {step}: {a[step]} (1 process) vs {b[step]} (2)"
    m1, m2 = _metrics(one), _metrics(two)
    assert m2["hardware/num_processes"] == 2 and "hardware/num_processes" not in m1
    assert m1["data/num_eval"] == m2["data/num_eval"]
    after = [k for k in m1 if k.startswith(("before/", "after/"))]
    assert after
    for key in after:  # the evaluation, gathered over the two processes, equals one process's
        assert m2[key] == pytest.approx(m1[key], abs=tol), key


@pytest.mark.parametrize("objective", ["dpo", "cdpo"])  # TRL's DPOTrainer; our PreferenceTrainer
def test_ddp_on_two_cpu_processes_gives_one_process_losses_at_every_step(tmp_path, objective):
    one, two = _one_and_two(tmp_path, [f"objective={objective}"], batch=4)
    _assert_same_training(one, two)
    assert (two / "model" / "model.safetensors").exists() and (two / "model" / "tokenizer.json").exists()
    assert not (two / "error.json").exists()
    assert (two / ".hydra" / "config.yaml").read_text().count("num_processes: 2") == 1
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert m2["train/tokens"] == m1["train/tokens"] > 0  # counted on each process, summed
    assert m2["train/tokens_per_s"] > 0 and m2["hardware/peak_rss_gb"] > 0


def test_fsdp_on_two_cpu_processes_trains_as_one_process(tmp_path):
    one, two = _one_and_two(tmp_path, ["objective=dpo"], batch=4, hardware="fsdp")
    _assert_same_training(one, two)
    from safetensors.torch import load_file

    full, sharded = load_file(one / "model" / "model.safetensors"), load_file(two / "model" / "model.safetensors")
    assert full.keys() == sharded.keys()  # the shards were gathered into one loadable file
    assert max((full[k] - sharded[k]).abs().max().item() for k in full) < 1e-4


def test_in_batch_negatives_are_gathered_across_processes(tmp_path):
    overrides = ["objective=infonce", "model=tiny_encoder", "model.tiny.dropout=0", "data=lee"]  # dropout: RNG per rank
    one, two = _one_and_two(tmp_path, overrides, batch=4)
    _assert_same_training(one, two)


def test_a_user_error_inside_the_processes_exits_2_with_one_line(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli([*TINY, "hardware=ddp", "hardware.num_processes=2", "objective=npo", "data=jsonl",
                      f"data.path={FIXTURES / 'data' / 'bad_forget.jsonl'}", f"hydra.run.dir={run_dir}"])  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad_forget.jsonl line 2" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads((run_dir / "error.json").read_text())["exit_code"] == 2


def test_a_sweep_of_ddp_runs_gives_one_folder_and_one_wandb_run_per_job(tmp_path):
    sweep = tmp_path / "sweep"
    result = _ok(run_cli(["-m", "model=tiny", "logger=wandb", "train.max_steps=2", "data.max_eval=8",
                          "hardware=ddp", "hardware.num_processes=2", "objective.beta=0.1,0.3",
                          f"hydra.sweep.dir={sweep}"]))  # fmt: skip
    assert result.stdout.count("Starting 2 process(es)") == 2
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / ".hydra").exists())
    assert len(jobs) == 2
    for job in jobs:
        assert _metrics(job)["hardware/num_processes"] == 2
        runs = list((job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1, runs  # rank 0 only
    assert (sweep / "results.csv").exists()
