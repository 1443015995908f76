"""What a run cost, in metrics.json and the printed summary: examples and tokens per second, peak memory."""

from __future__ import annotations

import json

import pytest
from conftest import compose

from contrastlab.tracking.summary import _cost_line

PAIRS, BATCH, MAX_LENGTH = 16, 4, 64


def _run(objective: str, tmp_path, capsys) -> tuple[dict, str]:
    from contrastlab.app.pipeline import run

    cfg = compose(["model=tiny", f"objective={objective}", "logger=none", "name=test", f"data.max_train={PAIRS}",
                   f"train.batch_size={BATCH}", f"train.max_steps={PAIRS // BATCH}", f"train.max_length={MAX_LENGTH}",
                   "data.max_eval=8", "eval.before=false", "save_model=false"])  # fmt: skip
    run(cfg, tmp_path / objective)
    return json.loads((tmp_path / objective / "metrics.json").read_text()), capsys.readouterr().out


@pytest.mark.slow
def test_trl_and_our_trainer_count_the_same_tokens_of_one_epoch(tmp_path, capsys):
    trl, trl_out = _run("dpo", tmp_path, capsys)
    ours, _ = _run("cdpo", tmp_path, capsys)
    # one epoch of the same 16 pairs, tokenized by TRL and by us: the same non-padding tokens, whatever the order
    assert trl["train/tokens"] == ours["train/tokens"]
    assert 2 * PAIRS * 8 < trl["train/tokens"] <= 2 * PAIRS * MAX_LENGTH
    for m in (trl, ours):  # timed after the first (warm-up) step: the other steps' examples over their seconds
        assert m["train/timed_steps"] == PAIRS // BATCH - 1
        assert m["train/samples_per_s"] == pytest.approx((PAIRS - BATCH) / m["train/timed_s"], rel=1e-6)
        assert m["train/tokens_per_s"] * m["train/timed_s"] < m["train/tokens"]  # the warm-up step's are left out
        assert 0.1 < m["hardware/peak_rss_gb"] < 64
    assert f"{trl['train/tokens_per_s']:.0f} tokens/s" in trl_out and "peak memory" in trl_out


def test_the_cost_line_says_what_was_measured():
    assert _cost_line({}) == ""
    line = _cost_line({"train/samples_per_s": 7.64, "train/tokens_per_s": 936.4, "hardware/peak_rss_gb": 1.374})
    assert line == "Training: 7.64 examples/s, 936 tokens/s; peak memory 1.37 GB (process RSS)"
    gpu = _cost_line({"train/samples_per_s": 120.0, "hardware/peak_gpu_memory_gb": 30.5})
    assert gpu == "Training: 120 examples/s; peak memory 30.50 GB (GPU, allocated, whole run)"
