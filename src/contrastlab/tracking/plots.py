"""The comparison report's plots: training curves of every job, and the families' frontier (reward against KL)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from contrastlab.tracking.jobs import Job, ReportColumns, common_overrides, label


def _log_lines(job: Job) -> list[dict]:
    path = job.folder / "log.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line cut short by a kill
            continue
    return [r for r in rows if isinstance(r, dict) and "step" in r]


def _curve(rows: list[dict], name: str) -> tuple[list[float], list[float]]:
    points = [(r["step"], r[name]) for r in rows if r.get(name) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_training_curves(jobs: list[Job], path: Path, columns: ReportColumns) -> bool:
    """train/loss against step, one line per job (and the first of `columns.curves` measured, in a second panel);
    False if no data."""
    common = common_overrides(jobs)
    logs = {id(j): _log_lines(j) for j in jobs}
    with_loss = {id(j) for j in jobs if _curve(logs[id(j)], "train/loss")[0]}
    if not with_loss:
        return False
    evals = next((m for m in columns.curves if any(_curve(logs[id(j)], m)[0] for j in jobs)), None)
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2 if evals else 1, figsize=(13 if evals else 8, 5), squeeze=False)
    for job in jobs:
        name = f"{label(job, common)} seed={job.seed}" + (" (failed)" if job.status == "failed" else "")
        style = "--" if job.status == "failed" else "-"
        line = None
        if id(job) in with_loss:
            steps, losses = _curve(logs[id(job)], "train/loss")
            (line,) = axes[0][0].plot(steps, losses, style, marker="o" if len(steps) == 1 else None, label=name)
        if evals and _curve(logs[id(job)], evals)[0]:
            axes[0][1].plot(*_curve(logs[id(job)], evals), style + "o", label=name,
                            color=line.get_color() if line else None)  # fmt: skip
    axes[0][0].set(xlabel="step", ylabel="train/loss", title="Training loss")
    axes[0][0].legend(fontsize="small")
    if evals:
        axes[0][1].set(xlabel="step", ylabel=evals, title=f"Held-out {evals.split('/', 1)[1]}")
        axes[0][1].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_frontier(jobs: list[Job], path: Path, columns: ReportColumns) -> bool:
    """The frontier of `columns.frontier` (the policy family's: after/gen_reward against after/gen_kl, the DPO
    paper's reward / KL frontier), one point per job, the reference as a line; False if no data."""
    if columns.frontier is None:
        return False
    x, y, reference_y = columns.frontier
    points = [j for j in jobs if j.status == "ok" and _has(j, x) and _has(j, y)]
    if not points:
        return False
    common = common_overrides(jobs)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    markers = "osD^v<>PX*"
    objectives = list(dict.fromkeys(j.objective for j in points))
    for i, objective in enumerate(objectives):
        mine = [j for j in points if j.objective == objective]
        ax.scatter([j.metrics[x] for j in mine], [j.metrics[y] for j in mine],
                   marker=markers[i % len(markers)], color=f"C{i}", s=50, label=objective)  # fmt: skip
        seeds = Counter(j.key for j in mine)
        for job in mine:
            note = " ".join(o.removeprefix("objective.") for o in label(job, common).split()[1:])
            note += f" seed={job.seed}" if seeds[job.key] > 1 else ""
            ax.annotate(note, (job.metrics[x], job.metrics[y]),
                        textcoords="offset points", xytext=(5, 5), fontsize="small")  # fmt: skip
    reference = [j.metrics[reference_y] for j in jobs if _has(j, reference_y)]
    if reference:
        ax.axhline(sum(reference) / len(reference), linestyle="--", color="grey", label="reference policy")
    ax.set(xlabel=f"KL(policy || reference), nats ({x})", ylabel=f"reward ({y})",
           title="Reward against KL to the reference policy")  # fmt: skip
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _has(job: Job, name: str) -> bool:
    return job.metrics.get(name) is not None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


