"""The report's training curves: the mean over seeds with its 95% band, and one panel per loss scale."""

from __future__ import annotations

import json
import math

import pytest

from contrastlab.tracking.jobs import Job, ReportColumns
from contrastlab.tracking.plots import loss_scale, mean_curve, plot_training_curves


def test_the_mean_curve_and_its_band_over_seeds():
    steps, mean, half = mean_curve([([1, 2, 3], [1.0, 2.0, 3.0]), ([1, 2], [3.0, 4.0])])
    assert steps == [1, 2]  # the steps every seed has
    assert mean == [2.0, 3.0]
    # two seeds: t(0.975, 1) * sd / sqrt(2), sd = sqrt(2): 12.706 * sqrt(2) / sqrt(2)
    assert half == pytest.approx([12.7062047, 12.7062047])
    assert mean_curve([([1], [0.5])])[2] == [0.0]


def test_dpo_and_ipo_losses_get_their_own_axes():
    assert loss_scale([0.69, 0.65, 0.6]) == 0
    assert loss_scale([25.0, 20.0, 12.0]) == 1
    assert loss_scale([0.05, 0.04]) == -1


def _job(tmp_path, objective: str, seed: int, losses: list[float]) -> Job:
    folder = tmp_path / f"{objective}-{seed}"
    folder.mkdir()
    lines = [{"step": i + 1, "train/loss": v} for i, v in enumerate(losses)]
    lines.append({"step": len(losses), "eval/pref_accuracy": 0.5 + 0.01 * seed})
    (folder / "log.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return Job(folder=folder, status="ok", error="", objective=objective, model="tiny", data="rt", seed=seed,
               overrides=[f"objective={objective}", f"train.seed={seed}"])  # fmt: skip


def test_a_two_objective_three_seed_plot_has_a_panel_per_scale(tmp_path, monkeypatch):
    import matplotlib.figure

    jobs = [_job(tmp_path, "dpo", s, [0.69, 0.6 - 0.01 * s, 0.5]) for s in range(3)]
    jobs += [_job(tmp_path, "ipo", s, [25.0, 20.0 - s, 15.0]) for s in range(3)]
    saved = []
    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: (saved.append(fig),
                                                                                    original(fig, *a, **k)))
    path = tmp_path / "curves.png"
    assert plot_training_curves(jobs, path, ReportColumns(curves=("eval/pref_accuracy",)))
    assert path.stat().st_size > 0
    fig = saved[0]
    axes = fig.get_axes()
    assert len(axes) == 3  # DPO's scale, IPO's scale, the held-out curve
    lines = [[line.get_label() for line in ax.get_lines()] for ax in axes[:2]]
    assert lines == [["dpo (3 seeds)"], ["ipo (3 seeds)"]]  # one mean line a configuration, not one a seed
    dpo = axes[0].get_lines()[0].get_ydata()
    assert list(dpo) == pytest.approx([0.69, 0.59, 0.5])
    assert len(axes[0].collections) == 1  # the band
    assert all(ax.get_legend() is None for ax in axes) and len(fig.legends) == 1  # one legend, beside the panels
    assert not math.isnan(dpo[1])
