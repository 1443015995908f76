"""Hyperparameter search with Optuna (`hydra/sweeper=optuna`): 3 trials on the tiny model complete, each returns
`eval.metric` read from its metrics.json, and the sweep reports the best trial."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import run_cli


@pytest.mark.slow
def test_optuna_search_of_three_trials_reports_the_best(tmp_path):
    sweep = tmp_path / "search"
    out = run_cli(["-m", "experiment=dpo_search", "model=tiny", "logger=none", "hydra.sweeper.n_trials=3",
                   "train.max_steps=3", "data.max_train=24", "data.max_eval=16", "save_model=false",
                   "eval.metric=after/reward_margin", f"hydra.sweep.dir={sweep}"])  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    trials = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(trials) == 3
    values, params = [], []
    for trial in trials:
        values.append(json.loads((trial / "metrics.json").read_text())["after/reward_margin"])
        overrides = yaml.safe_load((trial / ".hydra" / "overrides.yaml").read_text())
        params.append({k: float(v) for k, v in (o.split("=", 1) for o in overrides) if k in ("objective.beta", "train.lr")})
    assert len({p["objective.beta"] for p in params}) == 3  # the sampler proposed three different betas
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(values))  # maximised, over what the trials returned
    winner = params[values.index(max(values))]
    assert best["best_params"]["objective.beta"] == pytest.approx(winner["objective.beta"])
    assert best["best_params"]["train.lr"] == pytest.approx(winner["train.lr"])
    assert "Best value" in out.stdout + out.stderr
    assert "best params: `objective.beta=" in (sweep / "results.md").read_text()
