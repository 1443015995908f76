"""The comparison report on real run folders: error.json from run.py, the report of a sweep that failed in part
(scripts/report.py) and of one that succeeded (written by the sweep's own callback)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

PNG = b"\x89PNG\r\n\x1a\n"
SMALL = ["experiment=quick", "train.max_steps=2", "data.max_train=16", "data.max_eval=4"]


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_user_error_leaves_error_json_and_one_line(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli([*SMALL, "objective.loss_type=sigmod", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("contrastlab: error: ") and "sigmod" in lines[0]
    record = json.loads((run_dir / "error.json").read_text())
    assert record["type"] == "UserError" and record["exit_code"] == 2
    assert lines[0] == f"contrastlab: error: {record['error']}"
    assert not (run_dir / "results.md").exists() and not (tmp_path / "report").exists()  # no report for one run


def test_a_bug_leaves_error_json_and_keeps_its_traceback(tmp_path):
    run_dir = tmp_path / "run"
    code = (
        "import runpy, sys\nimport contrastlab.app.pipeline as runner\n"
        "def boom(cfg):\n    raise RuntimeError('boom: the disk is on fire')\n"
        f"runner.run = boom\nsys.argv = ['run.py', 'experiment=quick', 'hydra.run.dir={run_dir}']\n"
        "runpy.run_path('run.py', run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "", "GLIBC_TUNABLES": "x=1", "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: boom: the disk is on fire" in result.stderr
    record = json.loads((run_dir / "error.json").read_text())
    assert record == {"error": "boom: the disk is on fire", "type": "RuntimeError", "exit_code": 1}


@pytest.mark.slow
def test_report_of_a_sweep_with_a_failed_job(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(["-m", *SMALL, "objective.loss_type=sigmoid,sigmod", f"hydra.sweep.dir={sweep}"])
    # the second job fails (a user error): the sweep exits with 2 after writing its report; report.py rewrites it
    assert result.returncode == 2, result.stderr[-3000:]
    error = json.loads((sweep / "1_quick-dpo" / "error.json").read_text())
    assert error["exit_code"] == 2 and "sigmod" in error["error"]
    assert (sweep / "0_quick-dpo" / "metrics.json").exists()

    report = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), str(sweep)], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "2 jobs: 1 ok, 1 failed" in report.stdout
    got = rows(sweep / "results.csv")
    assert [(r["status"], r["error"]) for r in got] == [("ok", ""), ("failed", error["error"])]
    assert got[0]["objective"] == "dpo" and got[0]["model"] == "tiny" and got[0]["seed"] == "0"
    assert 0 <= float(got[0]["after/pref_accuracy"]) <= 1 and float(got[0]["train/steps"]) == 2
    md = (sweep / "results.md").read_text()
    assert "| dpo objective.loss_type=sigmoid | 1 |" in md
    assert "| dpo objective.loss_type=sigmod | 0 (1 failed) |" in md
    assert f"**FAILED** `{sweep / '1_quick-dpo'}`" in md and error["error"] in md
    assert (sweep / "training_curves.png").read_bytes()[:8] == PNG
    assert not (sweep / "reward_vs_kl.png").exists() and "skipped reward_vs_kl.png" in report.stdout


@pytest.mark.slow
def test_a_successful_sweep_writes_its_report_by_itself(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(["-m", *SMALL, "objective=dpo,ipo", f"hydra.sweep.dir={sweep}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 jobs: 2 ok, 0 failed" in result.stdout and f"written: {sweep / 'results.md'}" in result.stdout
    assert [(r["objective"], r["status"]) for r in rows(sweep / "results.csv")] == [("dpo", "ok"), ("ipo", "ok")]
    md = (sweep / "results.md").read_text()
    assert "| dpo | 1 |" in md and "| ipo | 1 |" in md and "\nNone.\n" in md
    assert (sweep / "training_curves.png").read_bytes()[:8] == PNG
