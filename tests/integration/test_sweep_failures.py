"""A job that fails does not stop its sweep (-m): the later jobs run, the sweep's report marks the failed job with
its error, and the command exits 2 (only user errors) or 1 (a bug) with a last stderr line that counts the failures.

The real sweeps train the tiny model; the others replace `contrastlab.app.pipeline.run` with a stand-in (no training)
that writes metrics.json, or fails in the job chosen by the test.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, run_cli

TINY = ["model=tiny", "logger=none", "train.max_steps=2", "eval.before=false", "data.max_train=16", "data.max_eval=8"]
JOB = "dpo-tiny-rt_sentiment"  # ${name} of these jobs

STAND_IN = """
import json, runpy, sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

import contrastlab.app.pipeline as runner
from contrastlab.errors import UserError


def stand_in(cfg):
    num = HydraConfig.get().job.num
    if num == {fail}:
        raise {error}
    value = float(cfg.objective.beta)
    folder = Path(HydraConfig.get().runtime.output_dir)
    (folder / "metrics.json").write_text(json.dumps({{"after/pref_accuracy": value}}))
    return value


runner.run = stand_in
sys.argv = ["run.py", *{args!r}]
runpy.run_path("run.py", run_name="__main__")
"""


def run_stand_in(args: list[str], fail: int, error: str) -> subprocess.CompletedProcess:
    """run.py ARGS with runner.run replaced: job number `fail` raises `error` (Python source), the others succeed."""
    code = STAND_IN.format(fail=fail, error=error, args=args)
    env = {**os.environ, "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", "x=1")}  # set: run.py must not re-exec
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=600)  # fmt: skip


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


@pytest.mark.slow
def test_a_user_error_in_the_middle_job_leaves_the_others_to_finish(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_cli(["-m", *TINY, "objective.loss_type=sigmoid,sigmod,ipo", f"hydra.sweep.dir={sweep}"])
    assert out.returncode == 2, out.stderr[-3000:]
    assert last_line(out.stderr) == f"contrastlab: error: 1 of 3 jobs failed; see {sweep / 'results.md'}"
    assert "Traceback" not in out.stderr  # a user's mistake: one line, no traceback

    good, bad, later = (sweep / f"{n}_{JOB}" for n in range(3))
    for job in (good, later):  # the job after the failed one ran too
        assert json.loads((job / "metrics.json").read_text())["train/steps"] == 2
        assert (job / "model").is_dir() and any((job / "model").iterdir())
        assert not (job / "error.json").exists()
    assert "objective.loss_type=ipo" in (later / ".hydra" / "overrides.yaml").read_text()
    error = json.loads((bad / "error.json").read_text())
    assert error["type"] == "UserError" and error["exit_code"] == 2 and "sigmod" in error["error"]
    assert not (bad / "metrics.json").exists()
    assert f"contrastlab: error: {bad.name}: {error['error']}" in out.stderr.splitlines()

    got = rows(sweep / "results.csv")
    assert [(r["status"], r["error"]) for r in got] == [("ok", ""), ("failed", error["error"]), ("ok", "")]
    md = (sweep / "results.md").read_text()
    assert "3 jobs: 2 ok, 1 failed." in md
    assert f"- **FAILED** `{bad}`" in md and error["error"] in md
    assert "| dpo objective.loss_type=sigmod | 0 (1 failed) |" in md and "| dpo objective.loss_type=ipo | 1 |" in md


@pytest.mark.slow
def test_a_failed_job_does_not_stop_a_joblib_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *TINY, "save_model=false",
                   "objective.loss_type=sigmod,sigmoid", f"hydra.sweep.dir={sweep}"])  # fmt: skip
    assert out.returncode == 2, out.stderr[-3000:]
    assert last_line(out.stderr) == f"contrastlab: error: 1 of 2 jobs failed; see {sweep / 'results.md'}"
    assert json.loads((sweep / f"1_{JOB}" / "metrics.json").read_text())["train/steps"] == 2
    error = json.loads((sweep / f"0_{JOB}" / "error.json").read_text())
    assert error["exit_code"] == 2 and not (sweep / f"0_{JOB}" / "metrics.json").exists()
    assert [(r["status"], r["error"]) for r in rows(sweep / "results.csv")] == [("failed", error["error"]), ("ok", "")]


def test_a_bug_in_a_job_prints_its_traceback_and_the_sweep_exits_1(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_stand_in(["-m", "objective.beta=0.1,0.2,0.3", f"hydra.sweep.dir={sweep}"], fail=1,
                       error="RuntimeError('boom: the disk is on fire')")  # fmt: skip
    assert out.returncode == 1, out.stderr[-3000:]
    assert "Traceback" in out.stderr and "RuntimeError: boom: the disk is on fire" in out.stderr
    name = "dpo-smollm2-rt_sentiment"
    assert f"contrastlab: error: 1_{name}: RuntimeError: boom: the disk is on fire" in out.stderr.splitlines()
    assert last_line(out.stderr) == f"contrastlab: error: 1 of 3 jobs failed; see {sweep / 'results.md'}"
    assert json.loads((sweep / f"1_{name}" / "error.json").read_text())["exit_code"] == 1
    assert json.loads((sweep / f"2_{name}" / "metrics.json").read_text()) == {"after/pref_accuracy": 0.3}
    got = rows(sweep / "results.csv")
    assert [(r["status"], r["error"]) for r in got] == [
        ("ok", ""), ("failed", "RuntimeError: boom: the disk is on fire"), ("ok", "")]  # fmt: skip


def test_a_sweep_without_failures_exits_0_and_a_stale_error_json_is_set_aside(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "objective.beta=0.1,0.2", f"hydra.sweep.dir={sweep}"]
    first = run_stand_in(args, fail=0, error="UserError('a mistake, fixed before the second attempt')")
    assert first.returncode == 2, first.stderr[-3000:]
    assert "1 of 2 jobs failed" in last_line(first.stderr)
    again = run_stand_in(args, fail=-1, error="None")  # the same sweep folder, nothing fails this time
    assert again.returncode == 0, again.stderr[-3000:]
    assert "jobs failed" not in again.stderr
    job = sweep / "0_dpo-smollm2-rt_sentiment"
    assert not (job / "error.json").exists() and (job / "metrics.json").exists()
    assert "fixed before" in json.loads((job / "error.previous.json").read_text())["error"]  # kept, set aside
    assert [r["status"] for r in rows(sweep / "results.csv")] == ["ok", "ok"]


def test_ctrl_c_still_stops_the_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    out = run_stand_in(["-m", "objective.beta=0.1,0.2", f"hydra.sweep.dir={sweep}"], fail=0,
                       error="KeyboardInterrupt()")  # fmt: skip
    assert out.returncode != 0
    assert (sweep / "0_dpo-smollm2-rt_sentiment").is_dir() and not (sweep / "1_dpo-smollm2-rt_sentiment").exists()
    assert not (sweep / "results.md").exists()  # the sweep ended there: no report


def test_an_optuna_search_goes_on_past_a_failed_trial(tmp_path):
    sweep = tmp_path / "search"
    out = run_stand_in(["-m", "experiment=dpo_search", "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={sweep}"],
                       fail=1, error="UserError('trial 1 was given a mistake')")  # fmt: skip
    assert out.returncode == 2, out.stderr[-3000:]
    assert last_line(out.stderr) == f"contrastlab: error: 1 of 3 jobs failed; see {sweep / 'results.md'}"
    trials = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in trials] == ["0_dpo_search", "1_dpo_search", "2_dpo_search"]  # the third trial ran
    assert (trials[1] / "error.json").exists() and not (trials[1] / "metrics.json").exists()
    values = [json.loads((t / "metrics.json").read_text())["after/pref_accuracy"] for t in (trials[0], trials[2])]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert math.isfinite(best["best_value"]) and best["best_value"] == pytest.approx(max(values))
    md = (sweep / "results.md").read_text()
    assert f"- **FAILED** `{trials[1]}`" in md and "trial 1 was given a mistake" in md
    assert "best params: `objective.beta=" in md


def make_job(sweep, name, metrics=None, error=None):
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"objective": {"name": "dpo"}, "train": {"seed": 0}}))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"objective.beta={name[0]}"]))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if error is not None:
        (folder / "error.json").write_text(json.dumps(error))


@pytest.mark.parametrize("jobs, failed, exit_code", [
    ({"0_ok": "ok", "1_ok": "ok"}, 0, 0),
    ({"0_ok": "ok", "1_user": "user", "2_user": "user"}, 2, 2),
    ({"0_user": "user", "1_bug": "bug"}, 2, 1),
    ({"0_ok": "ok", "1_user": "user", "2_killed": "killed"}, 2, 1),  # killed: no metrics.json, no error.json
])  # fmt: skip
def test_the_report_callback_counts_failed_jobs_for_the_exit_code(tmp_path, jobs, failed, exit_code):
    from omegaconf import OmegaConf

    from contrastlab.app import sweep_end as sweep_report

    sweep = tmp_path / "sweep"
    errors = {"user": {"error": "a mistake", "type": "UserError", "exit_code": 2},
              "bug": {"error": "boom", "type": "RuntimeError", "exit_code": 1}}  # fmt: skip
    for name, kind in jobs.items():
        make_job(sweep, name, metrics={"after/pref_accuracy": 0.5} if kind == "ok" else None, error=errors.get(kind))
    callback = sweep_report.SweepEnd()
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}})
    callback.on_multirun_start(config)
    assert sweep_report.OUTCOME is None
    callback.on_multirun_end(config)
    outcome = sweep_report.OUTCOME
    assert (outcome.jobs, outcome.failed, outcome.exit_code) == (len(jobs), failed, exit_code)
    assert outcome.summary() == f"{failed} of {len(jobs)} jobs failed; see {sweep / 'results.md'}"
