"""Per-example evaluation records, intervals on held-out metrics, and the paired comparisons of a sweep's report, on
the tiny model."""

from __future__ import annotations

import json

import pytest
from conftest import compose, run_cli

from contrastlab.tracking.examples import read_examples
from contrastlab.tracking.stats import interval

SMALL = ["experiment=quick", "train.max_steps=2", "data.max_train=16", "data.max_eval=48"]


def test_a_run_writes_its_examples_and_the_intervals_of_its_metrics(tmp_path, capsys):
    from contrastlab.app.pipeline import run

    run(compose([*SMALL, "objective=dpo", "name=test", "eval.bootstrap=200"]), tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    after, before = read_examples(tmp_path, "after"), read_examples(tmp_path, "before")
    assert len(after["id"]) == len(set(after["id"])) == metrics["data/num_eval"] == 48
    assert after["id"] == before["id"]  # the same examples, in one order
    for name in ("pref_accuracy", "reward_margin", "logp_chosen"):
        assert sum(after[name]) / 48 == pytest.approx(metrics[f"after/{name}"], rel=1e-6, abs=1e-6)  # float32 means
        expected = interval(after[name], resamples=200, seed=0, proportion=name.endswith("accuracy"))
        assert (metrics[f"ci_low/after/{name}"], metrics[f"ci_high/after/{name}"]) == pytest.approx(expected)
        assert metrics[f"ci_low/after/{name}"] <= metrics[f"after/{name}"] <= metrics[f"ci_high/after/{name}"]
    assert (metrics["ci_low/before/pref_accuracy"], metrics["ci_high/before/pref_accuracy"]) == (0.5, 0.5)
    out = capsys.readouterr().out
    low, high = metrics["ci_low/after/pref_accuracy"], metrics["ci_high/after/pref_accuracy"]
    assert "95% interval" in out and f"[{low:.4f}, {high:.4f}]" in out


@pytest.mark.slow
def test_a_sweeps_report_pairs_its_configurations_over_seeds(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(["-m", *SMALL, "objective=dpo,cdpo", "train.seed=0,1,2", f"hydra.sweep.dir={sweep}"])
    assert result.returncode == 0, result.stderr[-3000:]
    text = (sweep / "results.md").read_text()
    assert "## Paired differences" in text
    row = next(line for line in text.splitlines() if "| after/pref_accuracy |" in line and "cdpo" in line
               and not line.startswith("| configuration"))  # fmt: skip
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[6:8] == ["3", "48"]  # 3 seeds, 48 paired examples each
    low, high = (float(x) for x in cells[4].strip("[]").split(","))
    assert low <= float(cells[3]) <= high and cells[8] in ("yes", "no")
