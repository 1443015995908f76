"""On-policy objectives on real runs: GRPO with a length reward moves SmolLM2's completions to the target length;
iterative DPO's second round samples from (and is referenced to) the policy the first round left; a GRPO run killed
after a checkpoint and an iterative DPO run killed inside a round resume to the uninterrupted result; a reward function that fails stops the run with one line; the
trainer's samples are kept in the run folder."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch
from conftest import compose, interrupt, run_cli, same_result

from contrastlab.app.pipeline import run

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
TINY = ["model=tiny", "logger=none", "name=test", "data.max_train=24", "data.max_eval=8"]


def _log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_grpo_with_a_length_reward_moves_the_completion_length_to_the_target(tmp_path):
    """SmolLM2 answers short questions in 8 to 150+ tokens (cut at 48 here); 6 GRPO steps rewarding 8 tokens bring
    the mean sampled length from about 45 toward 8 (measured in a 30-step run: 47.9, 42.9, 40.2, 29.8, 17.4, 14.6,
    ..., 8.8 at step 8)."""
    cfg = compose(["objective=grpo", "model=smollm2", "data=jsonl", f"data.path={FIXTURES / 'short_answer_prompts.jsonl'}",
                   "reward=length", "reward.target_length=8", "objective.max_completion_length=48",
                   "train.max_steps=6", "train.batch_size=8", "logger=none", "name=test", "eval.before=false",
                   "eval.after=false", "save_model=false"])  # fmt: skip
    run(cfg, run_dir=tmp_path)
    lengths = [row["train/completions/mean_length"] for row in _log(tmp_path) if "train/completions/mean_length" in row]
    assert len(lengths) == 6
    first, last = sum(lengths[:2]) / 2, sum(lengths[-2:]) / 2
    assert abs(last - 8) < 0.6 * abs(first - 8), lengths
    samples = [json.loads(line) for line in (tmp_path / "train_samples.jsonl").read_text().splitlines()]
    assert {row["step"] for row in samples} == set(range(1, 7))  # every logging step's samples, with their rewards
    assert all(row["reward/length"] <= 0 and row["prompt"] and "completion" in row for row in samples)


def _iterative(*extra):
    return ["objective=iterative_dpo", *TINY, "reward=lexicon", "objective.prompts_per_round=4", "train.lr=1e-2",
            "eval.generate=false", *extra]  # fmt: skip  (the generation evaluation would sample too)


def test_iterative_dpos_second_round_samples_the_policy_the_first_round_left(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from contrastlab.eval import generation
    from contrastlab.objectives.trainers import rounds

    seen = []  # the weights each round's sampling saw
    real = generation.generate

    def recorded(model, *args, **kwargs):
        seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real(model, *args, **kwargs)

    monkeypatch.setattr(generation, "generate", recorded)
    cfg = compose(_iterative("train.max_steps=4", "train.save_every=2", "eval.before=false", "eval.after=false"))
    run(cfg, run_dir=tmp_path)
    assert len(seen) == 2  # one sampling a round
    after_round_0 = load_file(str(tmp_path / "checkpoints" / "checkpoint-2" / "model.safetensors"))
    assert all(seen[1][k].equal(after_round_0[k]) for k in after_round_0)  # round 1 sampled the policy after 2 steps
    assert not all(seen[0][k].equal(after_round_0[k]) for k in after_round_0)  # round 0 the initial one

    # round 1's reference log-probs are that policy's own log-probs of its pairs
    lines = [json.loads(line) for line in (tmp_path / rounds.FOLDER / "round-1.jsonl").read_text().splitlines()]
    info, rows = lines[0]["round"], [line["row"] for line in lines[1:]]
    assert info["pairs"] == len(rows) > 0 and all(p["pair"]["reward_chosen"] - p["pair"]["reward_rejected"] > 0.05
                                                  for p in lines[1:])  # fmt: skip
    from contrastlab.models.loading import load_model, load_tokenizer
    from contrastlab.objectives.trainers.preference import _by_example, _per_token
    from contrastlab.objectives.trainers.sequences import SequenceCollator

    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg.model, cfg.hardware, tokenizer, head="causal_lm")
    model.load_state_dict(after_round_0, strict=False)
    model.eval()
    from trl.trainer.utils import add_fused_lm_head

    add_fused_lm_head(model)  # the trainer's forward: per-token log-probs
    batch = SequenceCollator(tokenizer.pad_token_id, cfg.train.max_length)(rows[:4])
    with torch.no_grad():
        token, _, _ = _per_token(model, batch)
    logps = _by_example(token[:, -batch["completion_mask"].shape[1] + 1 :].sum(-1), 2)
    assert torch.allclose(logps, torch.tensor([row["ref_logps"] for row in rows[:4]]), atol=1e-4)
    logged = [row for row in _log(tmp_path) if "train/loss" in row]
    assert [row["train/round/round"] for row in logged] == [0, 0, 1, 1]


def test_iterative_dpo_killed_inside_a_round_resumes_to_the_uninterrupted_result(tmp_path):
    def args(run_dir):
        return ["model=tiny", "objective=iterative_dpo", "reward=lexicon", "logger=none", "train.max_steps=6",
                "train.save_every=2", "objective.prompts_per_round=4", "data.max_eval=16", f"hydra.run.dir={run_dir}"]

    whole = tmp_path / "whole"
    assert run_cli(args(whole)).returncode == 0
    killed_dir = tmp_path / "killed"
    killed = interrupt(args(killed_dir), killed_dir, signal.SIGKILL, 5)  # round 1 is steps 4-6; checkpoint-4 inside
    assert killed.returncode == -signal.SIGKILL
    resumed = run_cli(args(killed_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout
    same_result(killed_dir, whole, 6)
    assert (killed_dir / "rounds" / "round-1.jsonl").read_bytes() == (whole / "rounds" / "round-1.jsonl").read_bytes()


def test_grpo_killed_after_a_checkpoint_resumes_to_the_uninterrupted_result(tmp_path):
    def args(run_dir):
        return ["model=tiny", "objective=grpo", "reward=lexicon", "logger=none", "train.max_steps=6",
                "train.save_every=2", "data.max_eval=16", "eval.num_prompts=4", f"hydra.run.dir={run_dir}"]

    whole = tmp_path / "whole"
    assert run_cli(args(whole)).returncode == 0
    killed_dir = tmp_path / "killed"
    killed = interrupt(args(killed_dir), killed_dir, signal.SIGKILL, 3)
    assert killed.returncode == -signal.SIGKILL
    resumed = run_cli(args(killed_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout
    same_result(killed_dir, whole, 6)  # the samples, rewards, advantages and weights of an uninterrupted run
    assert (killed_dir / "train_samples.jsonl").read_text() == (whole / "train_samples.jsonl").read_text()


def test_a_reward_function_that_raises_stops_the_run_with_one_line(tmp_path):
    (tmp_path / "flaky.py").write_text("def score(prompts, completions):\n    raise RuntimeError('scorer down')\n")
    run_dir = tmp_path / "run"
    result = run_cli(["objective=grpo", *TINY, "reward=python", "reward.function=flaky:score", "train.max_steps=2",
                      f"hydra.run.dir={run_dir}"], cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "reward.function=flaky:score" in line]
    assert len(lines) == 1 and "raised RuntimeError: scorer down" in lines[0]
    assert (run_dir / ".hydra" / "config.yaml").is_file() and not (run_dir / "metrics.json").exists()
    assert "scorer down" in json.loads((run_dir / "error.json").read_text())["error"]
