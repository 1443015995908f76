"""The precision policy end to end on the CPU's bf16 (AMX) units: a run whose weights cannot move measures the same
held-out figures before and after training, and bf16 full fine-tuning at a small learning rate moves every weight."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import compose

SMALL = ["model=tiny", "logger=none", "name=test", "hardware=cpu", "hardware.precision=bf16", "data.max_train=16",
         "data.max_eval=16", "train.batch_size=4", "train.max_length=64"]  # fmt: skip


def _run(tmp_path, overrides: list[str]) -> tuple[dict, list[dict]]:
    from contrastlab.app.pipeline import run

    run(compose([*SMALL, *overrides]), tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    return metrics, log


@pytest.mark.parametrize("dtype", ["float32", "auto"])
@pytest.mark.parametrize("objective", ["dpo", "cdpo"])  # TRL's DPOTrainer, and a loss on our trainer
def test_weights_that_cannot_move_measure_the_same_before_and_after(objective, dtype, tmp_path):
    """lr 1e-12 changes no float32 weight, so the policy after training is the one before. With the "before"
    evaluation and a frozen reference outside bf16 autocast, and the "after" one inside it, held-out accuracy read
    0.5 before and 0.375-0.453 after, and our trainer's first log-ratio was not 0."""
    metrics, log = _run(tmp_path, [f"objective={objective}", f"model.dtype={dtype}", "train.lr=1e-12",
                                   "train.max_steps=2", "eval.before=true", "save_model=false"])  # fmt: skip
    assert metrics["before/pref_accuracy"] == 0.5 and metrics["after/pref_accuracy"] == 0.5
    assert abs(metrics["after/reward_margin"]) < 1e-3
    assert metrics["after/logp_chosen"] == metrics["before/logp_chosen"]
    first = next(line for line in log if "train/loss" in line)
    assert first["step"] == 1 and first["train/loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert first["train/rewards/margins"] == 0.0  # the policy and its reference compute the same numbers


def test_bf16_full_fine_tuning_moves_every_trainable_tensor(tmp_path):
    """With bf16 weights and no fp32 master, AdamW's updates at lr 5e-6 (about 5e-6 a weight) fall below half a bf16
    step for most weights: 16 of the tiny model's 21 tensors changed in 3 steps."""
    import transformers
    from safetensors.torch import load_file

    from contrastlab.app.plan import resolve_hardware
    from contrastlab.models.loading import load_model, load_tokenizer

    _run(tmp_path, ["objective=dpo", "train.lr=5e-6", "train.max_steps=3", "eval.after=false", "save_model=true"])
    trained = load_file(tmp_path / "model" / "model.safetensors")
    cfg = compose(SMALL)
    transformers.set_seed(cfg.train.seed)  # the tiny model's initial weights are drawn from the seed
    initial = load_model(cfg.model, resolve_hardware(cfg.hardware), load_tokenizer(cfg.model)).state_dict()
    assert set(trained) == set(initial) and len(trained) == 21
    assert {t.dtype for t in trained.values()} == {torch.float32}
    unmoved = [name for name, t in trained.items() if torch.equal(t, initial[name])]
    assert unmoved == []
