"""What an evaluation measured per held-out example, and the intervals of its metrics.

Every evaluation whose evaluator keeps per-example values (the pair evaluations of the policy and reward families)
writes them to `examples/<stage>.jsonl` in the run folder (stage: before, after, step-N): one line per held-out
example, its `id` (a hash of its token ids: two runs measured the same example when their ids agree) and its values
(for a policy: correctness as pref_accuracy, the implicit reward margin, the policy's and the reference's log-probs
of chosen and rejected). So any two runs on the same held-out set compare pair by pair (`tracking.paired`).

Each metric that is a mean of per-example values gets its 95% interval in metrics.json, as `ci_low/<stage>/<name>`
and `ci_high/<stage>/<name>` (`tracking.stats.interval`: Wilson's for accuracies, a seeded bootstrap of
`eval.bootstrap` resamples for other means).
"""

from __future__ import annotations

import json
from pathlib import Path

from contrastlab.tracking.stats import RATES, correlation_interval, interval

FOLDER = "examples"


def write_examples(run_dir: Path, stage: str, examples: dict[str, list]) -> Path:
    """`examples/<stage>.jsonl`: one line per example, the columns of `examples` (equal lengths)."""
    from contrastlab.tracking.run_folder import write_jsonl

    names = list(examples)
    rows = [dict(zip(names, values)) for values in zip(*(examples[n] for n in names))]
    path = Path(run_dir) / FOLDER / f"{stage}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, rows)
    return path


def read_examples(run_dir: Path, stage: str = "after") -> dict[str, list] | None:
    """The columns of `examples/<stage>.jsonl`, or None when the run wrote none."""
    path = Path(run_dir) / FOLDER / f"{stage}.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {name: [row[name] for row in rows] for name in (rows[0] if rows else {})}


def intervals(stage: str, metrics: dict[str, float], examples: dict[str, list], resamples: int,
              seed: int) -> dict[str, float]:  # fmt: skip
    """`ci_low/<stage>/<name>` and `ci_high/<stage>/<name>` for every `<stage>/<name>` of `metrics` measured per
    example."""
    out: dict[str, float] = {}
    if resamples < 1:
        return out
    if {"similarity", "gold"} <= set(examples):  # correlations over the pairs (embedding benchmarks): Fisher's z
        n = sum(v is not None for v in examples["similarity"])
        for name, rank in (("spearman", True), ("pearson", False)):
            if f"{stage}/{name}" in metrics:
                low, high = correlation_interval(metrics[f"{stage}/{name}"], n, rank)
                out[f"ci_low/{stage}/{name}"], out[f"ci_high/{stage}/{name}"] = low, high
    for name, values in examples.items():
        if name == "id" or f"{stage}/{name}" not in metrics:
            continue
        values = [v for v in values if v is not None]  # a value of another set's examples (unlearning)
        low, high = interval(values, resamples=resamples, seed=seed, proportion=name.endswith(RATES))
        out[f"ci_low/{stage}/{name}"], out[f"ci_high/{stage}/{name}"] = low, high
    return out
