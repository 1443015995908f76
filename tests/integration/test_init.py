"""Evaluate-only and chained runs: `model.init=RUN_DIR` starts from a finished run's model, `train.max_steps=0`
evaluates it without training; SFT then DPO has the SFT model as its reference."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import compose, run_cli

from contrastlab.errors import UserError

BASE = ["experiment=quick", "name=test", "train.max_steps=3", "data.max_train=24", "data.max_eval=16",
        "save_model=true", "eval.bootstrap=50"]  # fmt: skip


def _run(overrides: list[str], folder: Path) -> dict:
    from contrastlab.app.pipeline import run

    run(compose(BASE + overrides), folder)
    return json.loads((folder / "metrics.json").read_text())


def _saved_config(folder: Path, overrides: list[str]) -> None:
    """The .hydra/config.yaml of a run that started (and wrote nothing else)."""
    from omegaconf import OmegaConf

    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(compose(BASE + overrides), folder / ".hydra" / "config.yaml")


def _held_out(metrics: dict, stage: str) -> dict:
    return {k: v for k, v in metrics.items() if k.startswith((f"{stage}/", f"ci_low/{stage}/", f"ci_high/{stage}/"))}


@pytest.mark.parametrize("lora", [True, False], ids=["lora", "full"])
def test_evaluating_a_finished_run_reproduces_its_metrics_exactly(lora, tmp_path):
    trained = [f"model.lora.enabled={str(lora).lower()}", "train.lr=5e-3", "objective=dpo"]
    first = tmp_path / "trained"
    original = _run(trained, first)
    assert original["after/reward_margin"] != 0.0  # the training moved the policy
    again = _run(["objective=dpo", f"model.init={first}", "train.max_steps=0"], tmp_path / "again")
    assert _held_out(again, "after") == _held_out(original, "after")
    assert _held_out(again, "before") == _held_out(original, "before")  # the same reference: the run's base
    assert again["train/steps"] == 0 and not (tmp_path / "again" / "model").exists()
    for stage in ("before", "after"):
        assert ((tmp_path / "again" / "examples" / f"{stage}.jsonl").read_text()
                == (first / "examples" / f"{stage}.jsonl").read_text())  # fmt: skip


def test_a_packaged_model_evaluates_against_itself(tmp_path):
    metrics = _run(["train.max_steps=0"], tmp_path / "eval")
    assert metrics["after/reward_margin"] == metrics["before/reward_margin"] == 0.0
    assert metrics["after/logp_chosen"] == metrics["before/logp_chosen"]
    assert 0.0 <= metrics["after/rank_accuracy"] <= 1.0


def test_dpo_from_an_sft_run_has_the_sft_model_as_its_reference(tmp_path):
    sft = tmp_path / "sft"
    tuned = _run(["objective=sft", "train.lr=1e-2"], sft)
    assert tuned["after/logp_chosen"] > tuned["before/logp_chosen"] + 1.0  # SFT on the chosen completions worked
    dpo = tmp_path / "dpo"
    metrics = _run(["objective=dpo", f"model.init={sft}", "train.max_steps=1"], dpo)
    # the DPO run's reference (its model before training) is the SFT model: the same held-out log-probs
    assert metrics["before/logp_chosen"] == tuned["after/logp_chosen"]
    assert metrics["before/logp_rejected"] == tuned["after/logp_rejected"]
    loss = next(json.loads(line) for line in (dpo / "log.jsonl").read_text().splitlines()
                if "train/loss" in json.loads(line))["train/loss"]  # fmt: skip
    assert loss == pytest.approx(math.log(2), abs=1e-6)


def test_a_folder_that_is_no_finished_run_with_a_model_is_refused(tmp_path):
    from contrastlab.app.plan import make_plan

    def plan(folder):
        make_plan(compose(BASE + [f"model.init={folder}"]), tmp_path / "run")

    with pytest.raises(UserError, match="not a run folder"):
        plan(tmp_path / "nothing")
    unfinished = tmp_path / "unfinished"
    _saved_config(unfinished, [])
    with pytest.raises(UserError, match="did not finish"):
        plan(unfinished)
    (unfinished / "metrics.json").write_text("{}")
    with pytest.raises(UserError, match="holds no model.*save_model=true"):
        plan(unfinished)


def test_the_cli_exits_2_naming_the_folder(tmp_path):
    proc = run_cli(["experiment=quick", f"model.init={tmp_path}/missing", "train.max_steps=0",
                    f"hydra.run.dir={tmp_path}/run"])  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"model.init={tmp_path}/missing is not a run folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_keep_best_leaves_the_best_evaluated_weights(tmp_path):
    run = tmp_path / "best"
    metrics = _run(["objective=dpo", "train.max_steps=4", "train.eval_every=1", "train.lr=5e-3",
                    "train.keep_best=reward_margin", "train.keep_best_mode=min"], run)  # fmt: skip
    curve = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "eval/reward_margin" in row and row["step"] > 0:
            curve[row["step"]] = row["eval/reward_margin"]
    assert sorted(curve) == [1, 2, 3, 4]
    for step in (1, 2, 3):  # every evaluation during training keeps its per-example values
        rows = (run / "examples" / f"step-{step}.jsonl").read_text().splitlines()
        assert len(rows) == 16 and json.loads(rows[0])["reward_margin"] is not None
    best = min(curve, key=curve.get)
    assert best != 4  # the margin grows with training: the smallest is an early step's, not the last one's
    assert metrics["best/step"] == best and metrics["after/reward_margin"] == metrics["best/reward_margin"] == curve[best]
    # model/ holds those weights: evaluating it gives the best step's metrics
    again = _run(["objective=dpo", f"model.init={run}", "train.max_steps=0"], tmp_path / "again")
    assert again["after/reward_margin"] == pytest.approx(curve[best], abs=1e-6)


def test_keep_best_needs_evaluations_during_training():
    from contrastlab.config.validate import validate

    with pytest.raises(UserError, match="train.eval_every=N"):
        validate(compose(BASE + ["train.keep_best=pref_accuracy"]))


def test_sft_on_a_prompt_completion_file_lowers_the_held_out_nll(tmp_path):
    from contrastlab.data.records.demonstration import Demonstration
    from contrastlab.data.records import detect  # noqa: F401  (the file form is found by detection)

    rows = [{"prompt": f"Say the colour of thing {i}.", "completion": "Blue, always blue."} for i in range(40)]
    path = tmp_path / "demos.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    metrics = _run(["objective=sft", "data=jsonl", f"data.path={path}", "data.eval_fraction=0.2", "train.lr=1e-2",
                    "train.max_steps=4"], tmp_path / "sft")  # fmt: skip
    assert metrics["data/num_eval"] == 8 and metrics["data/num_train"] == 24  # data.max_train=24 of 32
    assert metrics["after/heldout_nll"] < metrics["before/heldout_nll"] - 0.5  # it learnt the completion
    assert metrics["after/heldout_logp_change"] > 0
    assert Demonstration.file_match(lambda f: f in {"prompt", "completion"}, str) is True
