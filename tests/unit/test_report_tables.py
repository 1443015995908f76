"""The comparison report (contrastlab.tracking.report, scripts/report.py) on run folders written by hand.

The sweep: dpo beta=0.1 with seeds 0 and 1 (ok) and seed 2 (failed, error.json), ipo seed 0 (ok), and a kto job
killed before its metrics.json. Expected numbers are worked out by hand:
pref_accuracy of dpo beta=0.1 over seeds 0, 1: 0.6 and 0.7 -> mean 0.65, sample std sqrt(2 * 0.05^2 / 1) = 0.07071;
gen_reward 1.0 and 1.5 -> 1.25 ± sqrt(2 * 0.25^2) = 0.3536; train/loss 0.5 and 0.4 -> 0.45 ± 0.07071.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT
from omegaconf import OmegaConf

from contrastlab.families import report_columns
from contrastlab.tracking.report import write_report
from contrastlab.app.sweep_end import SweepEnd

PNG = b"\x89PNG\r\n\x1a\n"


def make_job(root, name, objective, seed, overrides, metrics=None, error=None, log=None):
    folder = root / name
    (folder / ".hydra").mkdir(parents=True)
    config = {"objective": {"name": objective, "beta": 0.1}, "model": {"name": "tiny"},
              "data": {"name": "rt_sentiment"}, "train": {"seed": seed}}  # fmt: skip
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / ".hydra" / "hydra.yaml").write_text("hydra: {}\n")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if error is not None:
        (folder / "error.json").write_text(json.dumps(error))
    if log is not None:
        (folder / "log.jsonl").write_text(log)
    return folder


def log_text(losses, accuracies=(0.5, 0.6)) -> str:
    lines = [{"step": 0, "eval/pref_accuracy": accuracies[0]}]
    lines += [{"step": i + 1, "train/loss": loss, "train/grad_norm": 1.0} for i, loss in enumerate(losses)]
    lines += [{"step": len(losses), "eval/pref_accuracy": accuracies[1]}]
    return "".join(json.dumps(line) + "\n" for line in lines)


def gen(reward, kl, ref):
    return {"after/gen_reward": reward, "after/gen_kl": kl, "before/gen_reward": ref, "after/gen_win_rate": 0.5}


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "multirun" / "2026-01-01_00-00-00"
    root.mkdir(parents=True)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    common = ["model=tiny", "train.max_steps=3"]
    dpo = ["objective=dpo", "objective.beta=0.1"]
    base = {"before/pref_accuracy": 0.5, "data/num_train": 100, "after/reward_margin": None}
    make_job(root, "0_dpo", "dpo", 0, [*dpo, "train.seed=0", *common], log=log_text([0.7, 0.6, 0.5]),
             metrics={**base, **gen(1.0, 2.0, 0.2), "after/pref_accuracy": 0.6, "train/loss": 0.5, "time/total_s": 10,
                      "train/tokens_per_s": 900, "hardware/peak_rss_gb": 1.5})
    make_job(root, "1_dpo", "dpo", 1, [*dpo, "train.seed=1", *common], log=log_text([0.7, 0.5, 0.4]),
             metrics={**base, **gen(1.5, 3.0, 0.4), "after/pref_accuracy": 0.7, "train/loss": 0.4, "time/total_s": 12,
                      "train/tokens_per_s": 1000, "hardware/peak_rss_gb": 1.7})
    make_job(root, "2_dpo", "dpo", 2, [*dpo, "train.seed=2", *common],
             error={"error": "objective.beta must be positive", "type": "UserError", "exit_code": 2})
    make_job(root, "3_ipo", "ipo", 0, ["objective=ipo", "train.seed=0", *common], log=log_text([0.3, 0.2]),
             metrics={**base, **gen(0.8, 1.0, 0.3), "after/pref_accuracy": 0.55, "train/loss": 0.25, "time/total_s": 9,
                      "train/tokens_per_s": 800, "hardware/peak_rss_gb": 1.2})
    make_job(root, "4_kto", "kto", 0, ["objective=kto", "train.seed=0", *common],
             log='{"step": 1, "train/loss": 0.9}\n{"step": 2, "train/lo')  # killed mid-line
    return root


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def table_row(markdown: str, configuration: str) -> list[str]:
    line = next(ln for ln in markdown.splitlines() if ln.startswith(f"| {configuration} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_results_csv_has_one_row_per_job_with_status_error_and_every_metric(sweep):
    write_report([sweep], columns=report_columns())
    got = rows(sweep / "results.csv")
    assert [r["folder"] for r in got] == [str(sweep / n) for n in ("0_dpo", "1_dpo", "2_dpo", "3_ipo", "4_kto")]
    assert [r["status"] for r in got] == ["ok", "ok", "failed", "ok", "failed"]
    assert [r["seed"] for r in got] == ["0", "1", "2", "0", "0"]
    assert got[2]["error"] == "objective.beta must be positive"
    assert got[4]["error"] == "no metrics.json (killed, or still running)"
    assert got[0]["error"] == "" and got[0]["objective"] == "dpo" and got[3]["objective"] == "ipo"
    assert got[0]["model"] == "tiny" and got[0]["data"] == "rt_sentiment"
    assert got[0]["overrides"] == "objective=dpo objective.beta=0.1 train.seed=0 model=tiny train.max_steps=3"
    assert float(got[1]["after/pref_accuracy"]) == 0.7 and float(got[3]["train/loss"]) == 0.25
    assert float(got[0]["data/num_train"]) == 100 and float(got[0]["before/gen_reward"]) == 0.2
    assert got[0]["after/reward_margin"] == ""  # null in metrics.json: NaN
    assert got[2]["after/pref_accuracy"] == ""


def test_results_md_mean_and_std_over_seeds_and_failed_jobs_marked(sweep):
    md = write_report([sweep], columns=report_columns()).markdown
    assert (sweep / "results.md").read_text() == md
    header = table_row(md, "configuration")
    assert header[:11] == ["configuration", "n", "after/pref_accuracy", "after/gen_reward",
                           "before/gen_reward (reference)", "after/gen_win_rate", "after/gen_kl", "train/loss",
                           "time/total_s", "train/tokens_per_s", "hardware/peak_rss_gb"]  # fmt: skip
    assert header[11:] == ["after/reward_margin"]  # the other after/* metrics; no before/* nor data/*
    dpo = dict(zip(header, table_row(md, "dpo objective.beta=0.1")))
    assert dpo["n"] == "2 (1 failed)"
    assert dpo["after/pref_accuracy"] == "0.65 ± 0.07071"
    assert dpo["after/gen_reward"] == "1.25 ± 0.3536"
    assert dpo["before/gen_reward (reference)"] == "0.3 ± 0.1414"
    assert dpo["train/loss"] == "0.45 ± 0.07071"
    assert dpo["time/total_s"] == "11 ± 1.414"
    assert dpo["train/tokens_per_s"] == "950 ± 70.71" and dpo["hardware/peak_rss_gb"] == "1.6 ± 0.1414"
    assert dpo["after/reward_margin"] == "nan"
    ipo = dict(zip(header, table_row(md, "ipo")))
    assert ipo["n"] == "1" and ipo["after/pref_accuracy"] == "0.55" and ipo["after/gen_kl"] == "1"
    kto = dict(zip(header, table_row(md, "kto")))
    assert kto["n"] == "0 (1 failed)" and kto["after/pref_accuracy"] == ""
    assert "`model=tiny` `train.max_steps=3`" in md  # shared overrides listed once, not in the labels
    failed = md.split("## Failed jobs", 1)[1]
    assert f"**FAILED** `{sweep / '2_dpo'}`" in failed and "objective.beta must be positive" in failed
    assert f"**FAILED** `{sweep / '4_kto'}`" in failed and "killed, or still running" in failed
    assert "0_dpo" not in failed


def test_plots_are_png_files(sweep):
    report = write_report([sweep], columns=report_columns())
    for name in ("training_curves.png", "reward_vs_kl.png"):
        data = (sweep / name).read_bytes()
        assert data[:8] == PNG and len(data) > 10_000, name
        assert sweep / name in report.written
    assert report.skipped == []


def test_no_generation_metrics_no_reward_vs_kl_plot(tmp_path, capsys):
    from contrastlab.tracking.report import print_report

    make_job(tmp_path, "run", "dpo", 0, ["objective=dpo"], metrics={"after/pref_accuracy": 0.6, "train/loss": 0.5},
             log=log_text([0.7, 0.5]))  # fmt: skip
    out = tmp_path / "out"
    print_report(write_report([tmp_path / "run"], out, report_columns()))
    assert not (out / "reward_vs_kl.png").exists()
    assert (out / "training_curves.png").read_bytes()[:8] == PNG
    stdout = capsys.readouterr().out
    assert "1 jobs: 1 ok, 0 failed" in stdout
    assert "skipped reward_vs_kl.png" in stdout and f"written: {out / 'results.csv'}" in stdout
    assert "| dpo | 1 | 0.6 | 0.5 |" in stdout


def test_cli_writes_into_the_sweep_and_prints_the_summary(sweep):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), str(sweep)], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "5 jobs: 3 ok, 2 failed" in result.stdout
    for name in ("results.csv", "results.md", "training_curves.png", "reward_vs_kl.png"):
        assert f"written: {sweep / name}" in result.stdout and (sweep / name).exists()
    assert "| dpo objective.beta=0.1 | 2 (1 failed) | 0.65 ± 0.07071 |" in result.stdout


def test_several_paths_go_to_report_by_default(sweep, tmp_path, monkeypatch):
    single = make_job(tmp_path / "outputs", "one", "dpo", 3, ["objective=dpo", "objective.beta=0.1", "train.seed=3"],
                      metrics={"after/pref_accuracy": 0.8})  # fmt: skip
    monkeypatch.chdir(tmp_path)
    report = write_report([sweep, single], columns=report_columns())
    assert (tmp_path / "report" / "results.md").exists() and len(report.jobs) == 6
    assert not (sweep / "results.md").exists()


@pytest.mark.parametrize("where", ["missing", "empty", "file"])
def test_not_a_run_folder_exits_2_without_traceback(tmp_path, where):
    path = tmp_path / where
    if where == "empty":
        (path / "sub").mkdir(parents=True)
    elif where == "file":
        path.write_text("x")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), str(path)], cwd=tmp_path,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("contrastlab: error: ") and str(path) in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report").exists()


def test_optuna_best_params_in_results_md(sweep):
    (sweep / "optimization_results.yaml").write_text("name: optuna\nbest_params:\n  objective.beta: 0.1\n"
                                                     "best_value: 0.65\n")  # fmt: skip
    md = write_report([sweep], columns=report_columns()).markdown
    assert "## Optuna" in md and "best value: 0.65" in md and "`objective.beta=0.1`" in md


def test_sweep_callback_writes_the_report_and_never_fails(sweep, tmp_path, capsys):
    SweepEnd().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    assert "| dpo objective.beta=0.1 |" in (sweep / "results.md").read_text()
    SweepEnd().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "nothing")}}}))
    assert "contrastlab: warning: no sweep report written" in capsys.readouterr().err


def test_importing_compare_loads_neither_torch_nor_matplotlib():
    code = "import sys, contrastlab.tracking.report; print([m for m in ('torch', 'matplotlib') if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
