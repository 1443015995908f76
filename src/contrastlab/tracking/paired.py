"""Paired comparisons in the report: for every two configurations evaluated on the same held-out examples, the
difference of each key metric with its interval and p-value, over seeds, with a Holm correction over the table.

Per seed present in both configurations (their `examples/after.jsonl`, `tracking.examples`, with the same example
ids), the per-example values of A and B are paired example by example. The difference is the mean over the seeds of
the per-seed mean differences; its interval is the paired bootstrap over examples for one seed and Student's t over
the seeds for several (the seeds are the replicates: the run-to-run spread is in it); the p-value is the paired
bootstrap's over the examples of every common seed pooled. `holds`: the difference is significant at 0.05 after
Holm's correction over every comparison of the table. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from contrastlab.tracking.examples import read_examples
from contrastlab.tracking.stats import holm, over_seeds, paired


@dataclass(frozen=True)
class Comparison:
    a: str  # the configurations' labels
    b: str
    metric: str  # after/<name>
    difference: float  # mean over seeds of mean(a - b)
    low: float
    high: float
    p: float
    seeds: int
    examples: int  # paired examples per seed
    holds: bool = False


def _per_seed(group) -> dict:
    """seed -> the per-example column sets ("id" among each) of the group's finished jobs that wrote them: the
    held-out evaluation's (examples/after.jsonl), and the generation's per prompt (examples/generation.jsonl)."""
    out = {}
    for job in group:
        if job.status != "ok":
            continue
        sets = [read_examples(job.folder, stage) for stage in ("after", "generation")]
        sets = [s for s in sets if s and "id" in s]
        if sets:
            out[job.seed] = sets
    return out


def comparisons(groups: dict[str, list], metrics: list[str], resamples: int = 1000, seed: int = 0) -> list[Comparison]:
    """`groups`: configuration label -> its jobs; `metrics`: after/<name> entries to compare."""
    rows = []
    columns = {label: _per_seed(jobs) for label, jobs in groups.items()}  # each job's file read once
    for metric in metrics:
        name = metric.split("/", 1)[1]
        values = {label: {s: next((c["id"], c[name]) for c in sets if name in c) for s, sets in by_seed.items()
                          if any(name in c for c in sets)} for label, by_seed in columns.items()}  # fmt: skip
        for a, b in combinations(groups, 2):
            common = [s for s in values[a] if s in values[b] and values[a][s][0] == values[b][s][0]]
            if not common:
                continue
            # per seed, the (a, b) values of the examples both measured (None: a row of another set, unlearning)
            kept = {s: [(x, y) for x, y in zip(values[a][s][1], values[b][s][1]) if x is not None and y is not None]
                    for s in common}  # fmt: skip
            pooled_a = [x for s in common for x, _ in kept[s]]
            pooled_b = [y for s in common for _, y in kept[s]]
            pooled = paired(pooled_a, pooled_b, resamples, seed)
            if len(common) == 1:
                mean, low, high = pooled.mean, pooled.low, pooled.high
            else:
                per_seed = [float(np.mean([x - y for x, y in kept[s]])) for s in common]
                mean, low, high = over_seeds(per_seed)
            rows.append(Comparison(a, b, metric, mean, low, high, pooled.p, len(common), len(kept[common[0]])))
    marks = holm([r.p for r in rows])
    return [Comparison(**{**r.__dict__, "holds": m}) for r, m in zip(rows, marks)]


def markdown_section(rows: list[Comparison]) -> list[str]:
    """The report's section: a table, then one sentence per difference that holds."""
    if not rows:
        return []
    lines = ["", "## Paired differences", "",
             "Configurations evaluated on the same held-out examples, compared example by example: the difference "
             "A - B (mean over seeds), its 95% interval (paired bootstrap for one seed, t over seeds for several), "
             "the paired bootstrap p-value, and whether it holds at 0.05 after Holm's correction over this table.", "",
             "| A | B | metric | A - B | 95% interval | p | seeds | examples | holds |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        p = "<0.001" if r.p < 0.001 else f"{r.p:.3g}"  # 1000 resamples resolve no smaller p-value
        lines.append(f"| {r.a} | {r.b} | {r.metric} | {r.difference:+.4g} | [{r.low:.4g}, {r.high:.4g}] | {p} | "
                     f"{r.seeds} | {r.examples} | {'yes' if r.holds else 'no'} |")  # fmt: skip
    held = [r for r in rows if r.holds]
    lines.append("")
    for r in held:
        better, worse, diff = (r.a, r.b, r.difference) if r.difference > 0 else (r.b, r.a, -r.difference)
        low, high = (r.low, r.high) if r.difference > 0 else (-r.high, -r.low)
        lines.append(f"- {better} beats {worse} on {r.metric} by {diff:.3g} [{low:.3g}, {high:.3g}], "
                     f"{r.seeds} seed{'s' if r.seeds > 1 else ''}.")  # fmt: skip
    if not held:
        lines.append("No difference holds after Holm's correction.")
    return lines
