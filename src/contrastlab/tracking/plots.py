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


def mean_curve(curves: list[tuple[list[float], list[float]]]) -> tuple[list[float], list[float], list[float]]:
    """(steps, mean, half-width of the 95% t interval over seeds) at the steps every curve has; the half-width is 0
    for one curve."""
    from contrastlab.tracking.stats import over_seeds

    common = sorted(set.intersection(*(set(steps) for steps, _ in curves))) if curves else []
    values = [dict(zip(*curve)) for curve in curves]
    means, halves = [], []
    for step in common:
        mean, low, high = over_seeds([v[step] for v in values])
        means.append(mean)
        halves.append((high - low) / 2)
    return common, means, halves


def loss_scale(losses: list[float]) -> int:
    """The order of magnitude of a loss curve (its median), for putting curves of one scale on one axis: DPO's
    0.69 is scale 0 (0.3 to 3), IPO's 25 scale 1 (3 to 30)."""
    import math
    import statistics

    median = abs(statistics.median(losses)) if losses else 0.0
    return round(math.log10(median)) if median > 0 else 0


def plot_training_curves(jobs: list[Job], path: Path, columns: ReportColumns) -> bool:
    """train/loss against step, one line per configuration (the mean over its seeds, with the 95% band over
    seeds), one panel per loss scale (DPO's 0.7 and IPO's 25 on their own axes), and the first of
    `columns.curves` measured in a last panel; the legend is outside the panels. False if no data."""
    common = common_overrides(jobs)
    logs = {id(j): _log_lines(j) for j in jobs}
    configs: dict[tuple, list[Job]] = {}
    for job in jobs:
        if _curve(logs[id(job)], "train/loss")[0]:
            configs.setdefault((job.key, job.status), []).append(job)
    if not configs:
        return False
    evals = next((m for m in columns.curves if any(_curve(logs[id(j)], m)[0] for j in jobs)), None)
    losses = {key: mean_curve([_curve(logs[id(j)], "train/loss") for j in group]) for key, group in configs.items()}
    scales = {key: loss_scale(curve[1]) for key, curve in losses.items()}
    panels = sorted(set(scales.values()))
    plt = _pyplot()
    count = len(panels) + (1 if evals else 0)
    fig, axes = plt.subplots(1, count, figsize=(5.5 * count + 3, 4.8), squeeze=False)
    axes = axes[0]
    for index, (key, group) in enumerate(configs.items()):
        failed = key[1] == "failed"
        seeds = len(group)
        name = label(group[0], common) + (f" ({seeds} seeds)" if seeds > 1 else f" seed={group[0].seed}")
        name += " (failed)" if failed else ""
        color, style = f"C{index % 10}", "--" if failed else "-"
        ax = axes[panels.index(scales[key])]
        steps, mean, half = losses[key]
        ax.plot(steps, mean, style, color=color, marker="o" if len(steps) == 1 else None, label=name)
        if seeds > 1:
            ax.fill_between(steps, [m - h for m, h in zip(mean, half)], [m + h for m, h in zip(mean, half)],
                            color=color, alpha=0.2, linewidth=0)  # fmt: skip
        if evals:
            curves = [_curve(logs[id(j)], evals) for j in group if _curve(logs[id(j)], evals)[0]]
            if curves:
                steps, mean, half = mean_curve(curves)
                axes[-1].errorbar(steps, mean, yerr=half if seeds > 1 else None, fmt=style + "o", color=color,
                                  capsize=3, label=name)  # fmt: skip
    for ax, scale in zip(axes, panels):
        ax.set(xlabel="step", ylabel="train/loss", title="Training loss" + (f" (scale 1e{scale})" if len(panels) > 1
                                                                            else ""))  # fmt: skip
    if evals:
        axes[-1].set(xlabel="step", ylabel=evals, title=f"Held-out {evals.split('/', 1)[1]}")
    band = "; bands: 95% interval over seeds" if any(len(g) > 1 for g in configs.values()) else ""
    handles, labels = [], []
    for ax in axes:  # one legend for every panel, outside them, so it never covers a curve
        for handle, text in zip(*ax.get_legend_handles_labels()):
            if text not in labels:
                handles.append(handle)
                labels.append(text)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small",
               title=f"mean over seeds{band}" if band else None)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")  # outside: it never covers a point
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True


def _has(job: Job, name: str) -> bool:
    return job.metrics.get(name) is not None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


