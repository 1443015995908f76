"""Paired comparisons in the report (`tracking.paired`), on run folders written here with planted per-example values."""

from __future__ import annotations

import json

import numpy as np
import yaml

from contrastlab.tracking.jobs import ReportColumns
from contrastlab.tracking.report import write_report

IDS = [f"pair{i}" for i in range(200)]


def _job(root, objective: str, seed: int, correct: np.ndarray):
    folder = root / f"{objective}-{seed}"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(
        {"objective": {"name": objective}, "model": {"name": "tiny"}, "data": {"name": "rt"}, "train": {"seed": seed}}))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"objective={objective}", f"train.seed={seed}"]))
    (folder / "metrics.json").write_text(json.dumps({"after/pref_accuracy": float(correct.mean()), "train/steps": 3}))
    (folder / "examples").mkdir()
    rows = [{"id": i, "pref_accuracy": float(c)} for i, c in zip(IDS, correct)]
    (folder / "examples" / "after.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_planted_difference_holds_and_a_null_one_does_not(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(3):
        base = (rng.random(200) < 0.55).astype(float)
        better = np.where(rng.random(200) < 0.25, 1.0, base)  # a quarter of the pairs flipped to correct
        null = np.where(rng.random(200) < 0.5, base, (rng.random(200) < 0.55).astype(float))
        _job(tmp_path, "dpo", seed, base)
        _job(tmp_path, "simpo", seed, better)
        _job(tmp_path, "ipo", seed, null)
    report = write_report([tmp_path], out=tmp_path / "report", columns=ReportColumns(key=("after/pref_accuracy",)))
    text = report.markdown
    assert "## Paired differences" in text
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3]): line for line in text.splitlines()
            if "| after/pref_accuracy |" in line and not line.startswith("| configuration")}  # fmt: skip
    assert len(rows) == 3  # every two of the three configurations
    planted = next(line for pair, line in rows.items() if set(pair) == {"dpo", "simpo"})
    null = next(line for pair, line in rows.items() if set(pair) == {"dpo", "ipo"})
    assert planted.rstrip().endswith("| yes |") and null.rstrip().endswith("| no |")
    assert "| 3 | 200 |" in planted  # 3 seeds, 200 paired examples each
    assert "- simpo beats dpo on after/pref_accuracy by" in text and "3 seeds." in text
    assert "| <0.001 |" in planted


def test_runs_on_other_examples_are_not_paired(tmp_path):
    _job(tmp_path, "dpo", 0, np.ones(200))
    _job(tmp_path, "simpo", 0, np.zeros(200))
    lines = (tmp_path / "simpo-0" / "examples" / "after.jsonl").read_text().replace("pair1", "other").splitlines()
    (tmp_path / "simpo-0" / "examples" / "after.jsonl").write_text("\n".join(lines) + "\n")
    report = write_report([tmp_path], out=tmp_path / "report", columns=ReportColumns(key=("after/pref_accuracy",)))
    assert "## Paired differences" not in report.markdown
