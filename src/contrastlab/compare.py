"""The comparison report over finished runs: read run folders (or sweep folders of them), write a table and plots.

    python scripts/report.py multirun/<date>_<time> [more run or sweep folders] [--out DIR]

Writes `results.csv` (one row per job), `results.md` (one row per configuration, mean ± std over seeds, then
the failed jobs), `training_curves.png` and `reward_vs_kl.png` (the DPO paper's frontier, when jobs measured
generations). Jobs that differ only in `train.seed` form one configuration. No torch is imported.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from contrastlab.errors import UserError

KEY_METRICS = ("after/pref_accuracy", "after/gen_reward", "after/gen_win_rate", "after/gen_kl", "after/spearman",
               "after/forget_logp_drop", "train/loss", "time/total_s", "train/tokens_per_s",
               "hardware/peak_gpu_memory_gb", "hardware/peak_rss_gb")  # fmt: skip
REFERENCE_REWARD = "before/gen_reward"
EVAL_CURVES = ("eval/pref_accuracy", "eval/spearman", "eval/forget_logp_drop")
KILLED = "no metrics.json (killed, or still running)"


@dataclass
class Job:
    """One run folder, read."""

    folder: Path
    status: str  # ok | failed
    error: str  # the failure's one-line message; "" when ok
    objective: str
    model: str
    data: str
    seed: int | None
    overrides: list[str]  # the job's command-line overrides (.hydra/overrides.yaml)
    metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        """What makes a configuration: everything but the seed."""
        return (self.objective, self.model, self.data, tuple(_config_overrides(self)))


@dataclass
class Report:
    """What `write_report` did: the jobs read, the files written, the plots skipped (with why), results.md."""

    jobs: list[Job]
    written: list[Path]
    skipped: list[str]
    markdown: str


def is_run_folder(path: Path) -> bool:
    return (path / ".hydra").is_dir()


def find_run_folders(path: Path) -> list[Path]:
    """`path` itself when it is a run folder, else the run folders directly in it, in job order."""
    if is_run_folder(path):
        return [path]
    if not path.is_dir():
        raise UserError(f"{path}: no such folder (give a run folder or a multirun folder)")
    found = [p for p in path.iterdir() if p.is_dir() and is_run_folder(p)]
    if not found:
        raise UserError(f"{path} is neither a run folder (no .hydra/ in it) nor a folder of run folders")
    return sorted(found, key=_job_order)


def _job_order(path: Path) -> tuple:
    number = re.match(r"(\d+)_", path.name)
    return (int(number.group(1)) if number else math.inf, path.name)


def read_job(folder: Path) -> Job:
    config = _read_yaml(folder / ".hydra" / "config.yaml") or {}
    overrides = [str(o) for o in _read_yaml(folder / ".hydra" / "overrides.yaml") or []]
    metrics, status, error = {}, "ok", ""
    if (folder / "metrics.json").exists():
        try:
            metrics = {k: v for k, v in json.loads((folder / "metrics.json").read_text()).items() if _is_number(v)}
        except (OSError, ValueError) as err:
            status, error = "failed", f"unreadable metrics.json: {err}"
    else:
        status, error = "failed", KILLED
    if (folder / "error.json").exists():
        status = "failed"
        try:
            record = json.loads((folder / "error.json").read_text())
            kind, error = record.get("type", ""), str(record.get("error", ""))
            error = error if kind in ("", "UserError") else f"{kind}: {error}"
        except (OSError, ValueError) as err:
            error = f"unreadable error.json: {err}"
    seed = _field(config, "train", "seed")
    return Job(folder=folder, status=status, error=error, objective=str(_field(config, "objective", "name", "?")),
               model=str(_field(config, "model", "name", "?")), data=str(_field(config, "data", "name", "?")),
               seed=seed if isinstance(seed, int) else None, overrides=overrides, metrics=metrics)  # fmt: skip


def _field(config, section: str, name: str, default=None):
    """config[section][name], or `default` where the config lacks it."""
    part = config.get(section) if isinstance(config, dict) else None
    return part.get(name, default) if isinstance(part, dict) else default


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _is_number(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _config_overrides(job: Job) -> list[str]:
    """The overrides that make the configuration: all but the seed and the objective (named on its own)."""
    return [o for o in job.overrides if not o.startswith(("train.seed=", "objective="))]


def read_jobs(paths: list[Path]) -> tuple[list[Job], list[Path]]:
    """The jobs under `paths` and the sweep folders among them (folders of run folders)."""
    folders, sweeps = [], []
    for path in map(Path, paths):
        found = find_run_folders(path)
        folders += found
        if found != [path]:
            sweeps.append(path)
    return [read_job(f) for f in folders], sweeps


def common_overrides(jobs: list[Job]) -> list[str]:
    """The configuration overrides every job shares (left out of the labels, listed once)."""
    if not jobs:
        return []
    shared = set(_config_overrides(jobs[0])).intersection(*(_config_overrides(j) for j in jobs[1:]))
    return [o for o in _config_overrides(jobs[0]) if o in shared]


def label(job: Job, common: list[str]) -> str:
    """`dpo objective.beta=0.1`: the objective and the overrides that set this configuration apart."""
    return " ".join([job.objective, *(o for o in _config_overrides(job) if o not in common)])


def metric_order(names) -> list[str]:
    """The key metrics first, in their order, then the others alphabetically."""
    names = set(names)
    return [n for n in KEY_METRICS if n in names] + sorted(names - set(KEY_METRICS))


def results_frame(jobs: list[Job]) -> pd.DataFrame:
    """One row per job: who it is, how it ended, and every number of its metrics.json."""
    common = common_overrides(jobs)
    rows = [{"folder": str(j.folder), "status": j.status, "error": j.error, "objective": j.objective,
             "model": j.model, "data": j.data, "seed": j.seed, "configuration": label(j, common),
             "overrides": " ".join(j.overrides), **j.metrics} for j in jobs]  # fmt: skip
    metrics = metric_order({k for j in jobs for k in j.metrics})
    columns = ["folder", "status", "error", "objective", "model", "data", "seed", "configuration", "overrides"]
    frame = pd.DataFrame(rows, columns=columns + metrics)
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def table_metrics(jobs: list[Job]) -> list[str]:
    """results.md's metric columns: the key ones, the reference's generation reward, the other after/* ones."""
    measured = {k for j in jobs if j.status == "ok" for k in j.metrics}
    key = [n for n in KEY_METRICS if n in measured]
    if REFERENCE_REWARD in measured:
        key.insert(key.index("after/gen_reward") + 1 if "after/gen_reward" in key else len(key), REFERENCE_REWARD)
    return key + sorted(n for n in measured if n.startswith("after/") and n not in key)


def fmt(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return f"{value:.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def mean_std(values: list[float | None]) -> str:
    """`mean ± std` (sample standard deviation) over the seeds that measured it; the value alone for one."""
    if not values:
        return ""
    finite = [v for v in values if v is not None]
    if not finite:
        return "nan"
    mean = sum(finite) / len(finite)
    if len(finite) == 1:
        return fmt(mean)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))
    return f"{fmt(mean)} ± {fmt(std)}"


def configurations(jobs: list[Job]) -> dict[tuple, list[Job]]:
    """Jobs grouped by configuration, in the order of each configuration's first job."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.key, []).append(job)
    return groups


def markdown_table(jobs: list[Job]) -> str:
    common, names = common_overrides(jobs), table_metrics(jobs)
    header = ["configuration", "n", *(f"{n} (reference)" if n == REFERENCE_REWARD else n for n in names)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in configurations(jobs).values():
        ok = [j for j in group if j.status == "ok"]
        failed = len(group) - len(ok)
        n = f"{len(ok)} ({failed} failed)" if failed else str(len(ok))
        cells = [mean_std([j.metrics[m] for j in ok if m in j.metrics]) for m in names]
        lines.append("| " + " | ".join([label(group[0], common), n, *cells]) + " |")
    return "\n".join(lines)


def markdown(jobs: list[Job], sweeps: list[Path]) -> str:
    ok = sum(j.status == "ok" for j in jobs)
    common = common_overrides(jobs)
    parts = ["# Results", "", f"{len(jobs)} jobs: {ok} ok, {len(jobs) - ok} failed. Each cell is the mean ± sample "
             "standard deviation over seeds (the jobs of a configuration that finished); n counts them."]  # fmt: skip
    if common:
        parts.append("Overrides shared by every job: " + " ".join(f"`{o}`" for o in common) + ".")
    parts += ["", markdown_table(jobs), "", "## Failed jobs", ""]
    failed = [j for j in jobs if j.status == "failed"]
    parts += [f"- **FAILED** `{j.folder}` ({label(j, common)}, seed {j.seed}): {j.error}" for j in failed]
    parts += [] if failed else ["None."]
    for sweep in sweeps:
        parts += optuna_section(sweep)
    return "\n".join(parts) + "\n"


def optuna_section(sweep: Path) -> list[str]:
    """The best parameters of an Optuna sweep (optimization_results.yaml), if the sweep has them."""
    results = _read_yaml(sweep / "optimization_results.yaml")
    if not isinstance(results, dict):
        return []
    lines = ["", f"## Optuna: {sweep}", ""]
    if "best_params" in results:
        params = " ".join(f"`{k}={v}`" for k, v in (results["best_params"] or {}).items())
        lines += [f"- best value: {results.get('best_value')}", f"- best params: {params}"]
    for solution in results.get("solutions") or []:
        params = " ".join(f"`{k}={v}`" for k, v in (solution.get("params") or {}).items())
        lines.append(f"- Pareto-optimal: values {solution.get('values')}, params {params}")
    return lines


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


def plot_training_curves(jobs: list[Job], path: Path) -> bool:
    """train/loss against step, one line per job (and the held-out metric in a second panel); False if no data."""
    common = common_overrides(jobs)
    logs = {id(j): _log_lines(j) for j in jobs}
    with_loss = {id(j) for j in jobs if _curve(logs[id(j)], "train/loss")[0]}
    if not with_loss:
        return False
    evals = next((m for m in EVAL_CURVES if any(_curve(logs[id(j)], m)[0] for j in jobs)), None)
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


def plot_reward_vs_kl(jobs: list[Job], path: Path) -> bool:
    """The reward / KL frontier: after/gen_reward against after/gen_kl, one point per job; False if no data."""
    points = [j for j in jobs if j.status == "ok" and _has(j, "after/gen_kl") and _has(j, "after/gen_reward")]
    if not points:
        return False
    common = common_overrides(jobs)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 6))
    markers = "osD^v<>PX*"
    objectives = list(dict.fromkeys(j.objective for j in points))
    for i, objective in enumerate(objectives):
        mine = [j for j in points if j.objective == objective]
        ax.scatter([j.metrics["after/gen_kl"] for j in mine], [j.metrics["after/gen_reward"] for j in mine],
                   marker=markers[i % len(markers)], color=f"C{i}", s=50, label=objective)  # fmt: skip
        seeds = Counter(j.key for j in mine)
        for job in mine:
            note = " ".join(o.removeprefix("objective.") for o in label(job, common).split()[1:])
            note += f" seed={job.seed}" if seeds[job.key] > 1 else ""
            ax.annotate(note, (job.metrics["after/gen_kl"], job.metrics["after/gen_reward"]),
                        textcoords="offset points", xytext=(5, 5), fontsize="small")  # fmt: skip
    reference = [j.metrics[REFERENCE_REWARD] for j in jobs if _has(j, REFERENCE_REWARD)]
    if reference:
        ax.axhline(sum(reference) / len(reference), linestyle="--", color="grey", label="reference policy")
    ax.set(xlabel="KL(policy || reference), nats (after/gen_kl)", ylabel="reward (after/gen_reward)",
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


def default_out(paths: list[Path]) -> Path:
    """The single multirun (sweep) folder given, else ./report."""
    if len(paths) == 1 and not is_run_folder(Path(paths[0])):
        return Path(paths[0])
    return Path("report")


def write_report(paths: list[Path], out: Path | None = None) -> Report:
    """Read the jobs under `paths` and write results.csv, results.md and the plots into `out`."""
    if not paths:
        raise UserError("give at least one run folder or multirun folder")
    jobs, sweeps = read_jobs([Path(p) for p in paths])
    out = Path(out) if out is not None else default_out(paths)
    out.mkdir(parents=True, exist_ok=True)
    written, skipped = [out / "results.csv", out / "results.md"], []
    results_frame(jobs).to_csv(written[0], index=False)
    text = markdown(jobs, sweeps)
    written[1].write_text(text)
    plots = {"training_curves.png": (plot_training_curves, "no job has train/loss in its log.jsonl"),
             "reward_vs_kl.png": (plot_reward_vs_kl, "no job has after/gen_kl and after/gen_reward")}  # fmt: skip
    for name, (plot, why) in plots.items():
        if plot(jobs, out / name):
            written.append(out / name)
        else:
            skipped.append(f"{name}: {why}")
    return Report(jobs=jobs, written=written, skipped=skipped, markdown=text)


def print_report(report: Report) -> None:
    ok = sum(j.status == "ok" for j in report.jobs)
    print(f"{len(report.jobs)} jobs: {ok} ok, {len(report.jobs) - ok} failed")
    for path in report.written:
        print(f"written: {path}")
    for line in report.skipped:
        print(f"skipped {line}")
    print()
    print(markdown_table(report.jobs))
