"""A regression bound, not a speed or memory target (those are `make bench`'s): under run.py's allocator tunables
(freed memory kept in the heap) an evaluation's full-vocabulary logits piled up batch by batch, and a tiny-model
run evaluating rt_ranked's 361 held-out pairs peaked at 4.8-5.6 GB of resident memory against about 1.4 GB since
`contrastlab.heap` maps them (measured on the development machine; the bound leaves room for other machines)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow


def test_evaluating_many_pairs_does_not_pile_up_logits(tmp_path):
    result = run_cli(["objective=dpo", "model=tiny", "data=rt_ranked", "train.max_steps=0", "logger=none",
                      f"hydra.run.dir={tmp_path}"])  # fmt: skip  (evaluate-only: the reference, then the model)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["data/num_eval"] == 361
    assert metrics["hardware/peak_rss_gb"] < 3.0, metrics["hardware/peak_rss_gb"]
