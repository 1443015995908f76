"""The summary printed at the end of a run: what it trained, what it cost, and its held-out metrics before and after
training, in its family's order (`Family.metric_order`)."""

from __future__ import annotations

from pathlib import Path


def summary_table(metrics: dict[str, float], order: tuple[str, ...] = ()) -> str:
    """The metrics of `order` first, in that order, then any other (attr/<name>_accuracy, ...) alphabetically."""
    measured = {k.split("/", 1)[1] for k in metrics if k.startswith(("before/", "after/"))}
    names = [n for n in order if n in measured] + sorted(measured - set(order))
    rows = [("metric", "before", "after", "95% interval", "change")]
    for n in names:
        b, a = metrics.get(f"before/{n}"), metrics.get(f"after/{n}")
        change = f"{a - b:+.4f}" if a is not None and b is not None else ""
        low, high = metrics.get(f"ci_low/after/{n}"), metrics.get(f"ci_high/after/{n}")
        ci = f"[{low:.4f}, {high:.4f}]" if low is not None and high is not None else ""
        rows.append((n, "" if b is None else f"{b:.4f}", "" if a is None else f"{a:.4f}", ci, change))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_summary(cfg, metrics: dict[str, float], run_dir: Path, evaluated: str, order: tuple[str, ...]) -> None:
    """`evaluated` says what the held-out evaluation measured ("64 held-out pairs, ..."); `order`, the family's."""
    print()
    what = f"{cfg.objective.name} on {cfg.model.name} / {cfg.data.name}"
    if "train/loss" in metrics:
        print(f"{what}: {int(metrics['train/steps'])} steps, mean train loss {metrics['train/loss']:.4f} (last step "
              f"{metrics['train/final_loss']:.4f}), {metrics['time/total_s']:.0f} s")  # fmt: skip
    else:  # train.max_steps=0
        init = f" of {cfg.model.init}" if cfg.model.get("init") else ""
        print(f"{what}: evaluated{init} without training (train.max_steps=0), {metrics['time/total_s']:.0f} s")
    for line in (_cost_line(metrics), _data_line(metrics, cfg.train.max_length)):
        if line:
            print(line)
    print(f"Held-out evaluation ({evaluated}):")
    print(summary_table(metrics, order))
    if any(k.startswith("ci_low/after/") for k in metrics):
        print("95% interval: of the after value, over the held-out examples (Wilson's for accuracies, a bootstrap of "
              f"{cfg.eval.bootstrap} resamples for means); per-example values in examples/")
    print(f"Run folder: {run_dir}")


def _cost_line(metrics: dict[str, float]) -> str:
    """ "Training: 7.6 examples/s, 936 tokens/s; peak memory 1.37 GB (process RSS)", or '' before training."""
    parts = []
    if "train/samples_per_s" in metrics:
        parts.append(f"{metrics['train/samples_per_s']:.3g} examples/s")
    if "train/tokens_per_s" in metrics:
        parts.append(f"{metrics['train/tokens_per_s']:.0f} tokens/s")
    memory = ""
    if "hardware/peak_gpu_memory_gb" in metrics:
        memory = f"; peak memory {metrics['hardware/peak_gpu_memory_gb']:.2f} GB (GPU, allocated, whole run)"
    elif "hardware/peak_rss_gb" in metrics:
        memory = f"; peak memory {metrics['hardware/peak_rss_gb']:.2f} GB (process RSS)"
    return f"Training: {', '.join(parts)}{memory}" if parts else ""


def _data_line(metrics: dict[str, float], max_length: int) -> str:
    """ "Data: 3 records skipped (2 empty_chosen, 1 bad_json); 12 training records cut at train.max_length=64", or
    '' when nothing was skipped or cut."""
    parts = []
    if metrics.get("data/skipped"):
        reasons = sorted(((k.split("/", 2)[2], int(v)) for k, v in metrics.items() if k.startswith("data/skipped/")),
                         key=lambda kv: -kv[1])  # fmt: skip
        detail = f" ({', '.join(f'{n} {r}' for r, n in reasons)})" if reasons else ""
        skipped = int(metrics["data/skipped"])
        parts.append(f"{skipped} record{'s' * (skipped != 1)} skipped{detail}")
    if metrics.get("data/truncated"):
        cut = int(metrics["data/truncated"])
        parts.append(f"{cut} training record{'s' * (cut != 1)} cut at train.max_length={max_length}")
    return f"Data: {'; '.join(parts)}" if parts else ""
