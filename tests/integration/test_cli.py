"""run.py as a user meets it: fast --help, one-line errors with exit code 2, sweeps, the W&B logger."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, run_cli


def test_help_and_cfg_import_no_torch():
    code = (
        "import sys, runpy; sys.argv = ['run.py', '--cfg', 'job']\n"
        "try:\n    runpy.run_path('run.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    for args in (["--cfg", "job"], ["--help"]):
        src = code.replace("['run.py', '--cfg', 'job']", repr(["run.py", *args]))
        out = subprocess.run([sys.executable, "-c", src], cwd=ROOT, capture_output=True, text=True,
                             env={"GLIBC_TUNABLES": "x=1", "PATH": ""})  # fmt: skip
        assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    result = run_cli(["--help"])
    assert result.returncode == 0 and "objective:" in result.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["objective=nope"], ["objective", "nope", "dpo"]),
        (["objective.bta=0.1"], ["objective.bta", "unknown option"]),
        (["objective.beta=abc"], ["objective.beta", "abc"]),
        (["data=jsonl", "data.path=/no/such/pairs.jsonl"], ["/no/such/pairs.jsonl", "data.path"]),
        (["model=tiny", "objective.loss_type=sigmod"], ["sigmod", "sigmoid"]),
        (["objective=simcse", "model=tiny_encoder"], ["objective=simcse", "SentencePair", "rt_sentiment"]),
        (["objective=dpo", "model=minilm"], ["model=minilm", "sentence encoder", "objective=simcse"]),
        (["objective=infonce", "model=tiny_encoder", "data=lee", "train.batch_size=1"], ["train.batch_size=1"]),
        (["objective=simcse", "model=tiny_encoder", "data=lee", "data.benchmark=stsx"], ["data.benchmark", "stsx"]),
        (["objective=npo", "model=tiny", "data=rt_sentiment"], ["objective=npo", "Forget", "data=rt_forget"]),
        (["objective=modpo", "model=tiny", "objective.weights=[1,0,1]"], ["3 weights", "sentiment, brevity"]),
        (["objective=odpo", "model=tiny", "data=rt_sentiment"], ["objective=odpo", "score_chosen", "rt_ranked"]),
        (["objective=dpo", "model=tiny", "train.curriculum=true"], ["train.curriculum", "no scores"]),
    ],
    ids=["unknown-objective", "misspelt-key", "wrong-type", "missing-data-file", "unknown-loss-type",
         "embedding-objective-on-pairs", "encoder-for-dpo", "batch-of-one", "unknown-benchmark",
         "unlearning-on-pairs", "modpo-weights-per-attribute", "odpo-without-scores", "curriculum-without-scores"],
)
def test_user_errors_exit_2_with_one_line(args, words, tmp_path):
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "metrics.json").write_text('{"after/pref_accuracy": 0.9}\n')
    result = run_cli([*args, "logger=none", f"hydra.run.dir={tmp_path / 'new'}"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("contrastlab: error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]
    assert (earlier / "metrics.json").read_text() == '{"after/pref_accuracy": 0.9}\n'


@pytest.mark.slow
def test_multirun_leaves_one_folder_per_job(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(["-m", "objective=dpo,simpo", "model=tiny", "logger=none", "train.max_steps=2",
                      "data.max_train=16", "data.max_eval=4", f"hydra.sweep.dir={sweep}"])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    folders = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert [p.name for p in folders] == ["0_dpo-tiny-rt_sentiment", "1_simpo-tiny-rt_sentiment"]
    for folder in folders:
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["train/steps"] == 2
        assert (folder / ".hydra" / "config.yaml").exists() and (folder / "log.jsonl").exists()


@pytest.mark.slow
def test_jsonl_data_through_the_cli(tmp_path):
    result = run_cli(["model=tiny", "logger=none", "train.max_steps=2", "data=jsonl",
                      f"data.path={FIXTURES / 'data' / 'pairs.jsonl'}", f"hydra.run.dir={tmp_path}"])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pref_accuracy" in result.stdout
    assert json.loads((tmp_path / "metrics.json").read_text())["train/steps"] == 2
