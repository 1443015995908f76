"""The front of a sweep: one point per run folder, two metrics, Pareto-optimal points marked.

    python scripts/front.py multirun/<date>_<time> [X_METRIC Y_METRIC]

Defaults to the MODPO front of `experiment=modpo_front`: after/attr/sentiment_accuracy against
after/attr/brevity_accuracy. Prints a table (with each run's objective.weights) and writes front.csv in the
sweep folder. A point is Pareto-optimal when no other run is at least as good on both metrics and better on one.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import yaml


def points(sweep: Path, x: str, y: str) -> list[dict]:
    out = []
    for metrics_file in sorted(sweep.glob("*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        if x not in metrics or y not in metrics:
            continue
        config = yaml.safe_load((metrics_file.parent / ".hydra" / "config.yaml").read_text())
        weights = config.get("objective", {}).get("weights", "")
        out.append({"run": metrics_file.parent.name, "weights": json.dumps(weights), x: metrics[x], y: metrics[y]})
    for p in out:
        p["pareto"] = not any(q[x] >= p[x] and q[y] >= p[y] and (q[x] > p[x] or q[y] > p[y]) for q in out)
    return out


def main() -> None:
    if len(sys.argv) not in (2, 4):
        sys.exit(__doc__)
    sweep = Path(sys.argv[1])
    x, y = sys.argv[2:4] if len(sys.argv) == 4 else ("after/attr/sentiment_accuracy", "after/attr/brevity_accuracy")
    rows = points(sweep, x, y)
    if not rows:
        sys.exit(f"front: no run folder under {sweep} has both {x} and {y} in its metrics.json")
    print(f"{'run':32} {'weights':44} {x.split('/')[-1]:>20} {y.split('/')[-1]:>20}  pareto")
    for r in sorted(rows, key=lambda r: r[x]):
        print(f"{r['run']:32} {r['weights']:44} {r[x]:>20.4f} {r[y]:>20.4f}  {'*' if r['pareto'] else ''}")
    with open(sweep / "front.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"written: {sweep / 'front.csv'}")


if __name__ == "__main__":
    main()
