"""Generation evaluation (`eval.generate=true`): completions of the policy and of its reference for held-out
prompts, scored by a reward model run; the KL of an untrained policy to itself is 0; bad options exit 2."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
import torch
from conftest import compose, run_cli

from contrastlab.eval.generation import GenerationEvaluator, RewardScorer, adapter_off, generate, prompt_ids
from contrastlab.models.loading import load_model, load_reward_model, load_tokenizer
from contrastlab.app.pipeline import run

TINY = ["model=tiny", "logger=none", "name=test", "train.max_steps=3", "train.lr=1e-3", "data.max_train=24", "data.max_eval=8",
        "save_model=false"]  # fmt: skip
GEN = ["eval.generate=true", "eval.num_prompts=4", "eval.num_samples=2", "eval.max_new_tokens=8"]
PROMPTS = ['Write a short review of the film "Heat".', 'Write a short review of the film "Up".', "Hello"]


@pytest.fixture(scope="module")
def reward_run(tmp_path_factory):
    """The folder of a (tiny) objective=reward run."""
    folder = tmp_path_factory.mktemp("rm") / "reward"
    run(compose(["objective=reward", "model=tiny", "logger=none", "name=rm", "train.max_steps=3", "data.max_train=24",
                 "data.max_eval=8"]), run_dir=folder)  # fmt: skip
    return folder


def _tiny(lora: bool = False):
    cfg = compose(["model=tiny", *(["model.lora.enabled=true"] if lora else [])])
    tokenizer = load_tokenizer(cfg.model)
    torch.manual_seed(0)
    model = load_model(cfg.model, cfg.hardware, tokenizer)
    return cfg, tokenizer, model


def test_generation_writes_reward_win_rate_and_kl(reward_run, tmp_path):
    cfg = compose(["objective=dpo", *TINY, *GEN, f"eval.reward_model={reward_run}"])
    run(cfg, run_dir=tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for name in ("after/gen_reward", "before/gen_reward", "after/gen_win_rate", "after/gen_kl",
                 "after/gen_reward_greedy", "before/gen_reward_greedy", "after/gen_length"):  # fmt: skip
        assert math.isfinite(metrics[name]), name
    assert 0.0 <= metrics["after/gen_win_rate"] <= 1.0
    assert 1 <= metrics["after/gen_length"] <= 8
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4
    assert {"prompt", "policy", "reference", "reward_policy", "reward_reference", "log_ratio"} <= set(samples[0])
    for row in samples:  # every sample of both policies, with its reward, and the policy's with its log-ratio
        assert len(row["policy_samples"]) == len(row["reference_samples"]) == 2
        assert all({"text", "reward", "log_ratio"} <= set(x) for x in row["policy_samples"])
        assert all({"text", "reward"} <= set(x) for x in row["reference_samples"])
        assert row["log_ratio"] == pytest.approx(sum(x["log_ratio"] for x in row["policy_samples"]) / 2)
    rewards = [x["reward"] for row in samples for x in row["policy_samples"]]
    assert metrics["after/gen_reward"] == pytest.approx(sum(rewards) / len(rewards), abs=1e-5)
    per_prompt = [json.loads(line) for line in (tmp_path / "examples" / "generation.jsonl").read_text().splitlines()]
    assert len(per_prompt) == 4 and len({row["id"] for row in per_prompt}) == 4
    for name in ("gen_reward", "gen_kl", "gen_win_rate", "gen_reward_greedy"):  # an interval for each
        assert metrics[f"ci_low/after/{name}"] <= metrics[f"after/{name}"] <= metrics[f"ci_high/after/{name}"], name
    assert metrics["ci_low/before/gen_reward"] <= metrics["before/gen_reward"] <= metrics["ci_high/before/gen_reward"]
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert any("eval/gen_kl" in row for row in logged)


def test_kl_of_an_untrained_policy_to_itself_is_zero(reward_run):
    cfg, tokenizer, model = _tiny()
    rm, rm_tok, rm_chat, rm_system = load_reward_model(str(reward_run), cfg.hardware)
    evaluator = GenerationEvaluator(tokenizer, PROMPTS, True, 64, max_new_tokens=6, num_samples=3, seed=1,
                                    scorer=RewardScorer(rm, rm_tok, rm_chat, rm_system))  # fmt: skip
    metrics = evaluator(model, lambda: contextlib.nullcontext(model))
    assert metrics["after/gen_kl"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["after/gen_win_rate"] == 0.5  # the same greedy completions: every prompt a tie
    assert metrics["after/gen_reward"] == pytest.approx(metrics["before/gen_reward"], abs=1e-6)


def test_kl_of_a_fresh_lora_adapter_to_the_base_is_zero():
    from peft import get_peft_model

    from contrastlab.models.loading import lora_config

    cfg, tokenizer, model = _tiny(lora=True)
    policy = get_peft_model(model, lora_config(cfg.model, "CAUSAL_LM"))  # B = 0: the same function as the base
    evaluator = GenerationEvaluator(tokenizer, PROMPTS, True, 64, max_new_tokens=6, num_samples=2)
    metrics = evaluator(policy, lambda: adapter_off(policy))
    assert metrics["after/gen_kl"] == pytest.approx(0.0, abs=1e-5)
    assert "after/gen_reward" not in metrics  # no reward model: KL and length only


def test_kl_is_positive_for_a_changed_policy():
    _, tokenizer, model = _tiny()
    _, _, other = _tiny()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.05 * torch.randn_like(p))
    evaluator = GenerationEvaluator(tokenizer, PROMPTS, True, 64, max_new_tokens=6, num_samples=8)
    metrics = evaluator(other, lambda: contextlib.nullcontext(model))
    assert metrics["after/gen_kl"] > 0.01


def test_sampling_is_seeded_and_cut_after_the_end_token():
    _, tokenizer, model = _tiny()
    ids = prompt_ids(tokenizer, PROMPTS, True, 64)
    a = generate(model, tokenizer, ids, 6, 2, 1.0, 2, seed=3)
    b = generate(model, tokenizer, ids, 6, 2, 1.0, 2, seed=3)
    assert a.sampled == b.sampled and a.greedy == b.greedy
    assert [len(s) for s in a.sampled] == [2, 2, 2]
    stop = tokenizer.eos_token_id
    for seq in [a.greedy[0], *a.sampled[0]]:
        assert 1 <= len(seq) <= 6
        assert stop not in seq[:-1]


def test_reward_recipe_trains_the_reward_model_once(tmp_path):
    folder = tmp_path / "rm"
    recipe = ("['objective=reward','model=tiny','logger=none','train.max_steps=2','data.max_train=16',"
              "'data.max_eval=8']")
    base = ["objective=dpo", *TINY, *GEN, "eval.num_samples=0", f"eval.reward_model={folder}",
            f"eval.reward_recipe={recipe}"]  # fmt: skip
    run(compose(base), run_dir=tmp_path / "job0")
    assert (folder / "model").is_dir() and (folder / "metrics.json").exists()
    trained = (folder / "metrics.json").stat().st_mtime_ns
    run(compose([*base, "objective.beta=0.2"]), run_dir=tmp_path / "job1")
    assert (folder / "metrics.json").stat().st_mtime_ns == trained  # reused, not trained again
    metrics = json.loads((tmp_path / "job1" / "metrics.json").read_text())
    assert math.isfinite(metrics["after/gen_win_rate"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval.generate=true", "eval.reward_model=/nonexistent/rm"], "is not a run folder"),
        (["objective=reward", "eval.generate=true"], "drop eval.generate"),
        (["eval.reward_model=/somewhere"], "eval.generate=false"),
        (["eval.generate=true", "eval.temperature=0"], "eval.temperature=0"),
    ],
)
def test_bad_generation_options_exit_2(args, message, tmp_path):
    out = run_cli([*TINY, *args, f"hydra.run.dir={tmp_path / 'run'}"])
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_a_policy_run_is_not_a_reward_model(tmp_path):
    run(compose(["objective=dpo", *TINY, "train.max_steps=1", "eval.before=false", "eval.after=false"]),
        run_dir=tmp_path / "dpo")  # fmt: skip
    out = run_cli([*TINY, "eval.generate=true", f"eval.reward_model={tmp_path / 'dpo'}",
                   f"hydra.run.dir={tmp_path / 'run'}"])  # fmt: skip
    assert out.returncode == 2
    assert "is a run of objective=dpo" in out.stderr
