"""The comparison report over finished runs: read run folders (or sweep folders of them), write a table and plots.

    python scripts/report.py multirun/<date>_<time> [more run or sweep folders] [--out DIR]

Writes `results.csv` (one row per job), `results.md` (one row per configuration, mean ± std over seeds, then
the failed jobs), `training_curves.png` and `reward_vs_kl.png` (the DPO paper's frontier, when jobs measured
generations; `tracking.plots`). Jobs that differ only in `train.seed` form one configuration. Which metrics lead
the tables and which the plots show are the families' (`ReportColumns`, merged by `contrastlab.families`), handed
in by the caller. No torch is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from contrastlab.errors import UserError
from contrastlab.tracking.jobs import (Job, ReportColumns, common_overrides, is_run_folder, label,
                                       read_jobs, read_yaml)

@dataclass
class Report:
    """What `write_report` did: the jobs read, the files written, the plots skipped (with why), results.md."""

    jobs: list[Job]
    written: list[Path]
    skipped: list[str]
    markdown: str
    columns: ReportColumns = field(default_factory=ReportColumns)


def metric_order(names, columns: ReportColumns) -> list[str]:
    """The leading metrics first, in their order, then the others alphabetically."""
    names, leading = set(names), columns.leading
    return [n for n in leading if n in names] + sorted(names - set(leading))


def results_frame(jobs: list[Job], columns: ReportColumns) -> pd.DataFrame:
    """One row per job: who it is, how it ended, and every number of its metrics.json."""
    common = common_overrides(jobs)
    rows = [{"folder": str(j.folder), "status": j.status, "error": j.error, "objective": j.objective,
             "model": j.model, "data": j.data, "seed": j.seed, "configuration": label(j, common),
             "overrides": " ".join(j.overrides), **j.metrics} for j in jobs]  # fmt: skip
    metrics = metric_order({k for j in jobs for k in j.metrics}, columns)
    columns = ["folder", "status", "error", "objective", "model", "data", "seed", "configuration", "overrides"]
    frame = pd.DataFrame(rows, columns=columns + metrics)
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def table_metrics(jobs: list[Job], columns: ReportColumns) -> list[str]:
    """results.md's metric columns: the leading ones, each reference column after its twin, the other after/*."""
    measured = {k for j in jobs if j.status == "ok" for k in j.metrics}
    key = [n for n in columns.leading if n in measured]
    for reference in (n for n in columns.reference if n in measured):
        twin = "after/" + reference.split("/", 1)[1]
        key.insert(key.index(twin) + 1 if twin in key else len(key), reference)
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


def _interval(ok: list[Job], metric: str) -> str:
    """ " [low, high]": the 95% interval over held-out examples of a configuration's one finished job, or ''."""
    if len(ok) != 1 or f"ci_low/{metric}" not in ok[0].metrics:
        return ""
    low, high = ok[0].metrics[f"ci_low/{metric}"], ok[0].metrics[f"ci_high/{metric}"]
    return f" [{fmt(low)}, {fmt(high)}]" if low is not None and high is not None else ""


def markdown_table(jobs: list[Job], columns: ReportColumns) -> str:
    common, names = common_overrides(jobs), table_metrics(jobs, columns)
    header = ["configuration", "n", *(f"{n} (reference)" if n in columns.reference else n for n in names)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in configurations(jobs).values():
        ok = [j for j in group if j.status == "ok"]
        failed = len(group) - len(ok)
        n = f"{len(ok)} ({failed} failed)" if failed else str(len(ok))
        cells = [mean_std([j.metrics[m] for j in ok if m in j.metrics]) + _interval(ok, m) for m in names]
        lines.append("| " + " | ".join([label(group[0], common), n, *cells]) + " |")
    return "\n".join(lines)


def markdown(jobs: list[Job], sweeps: list[Path], columns: ReportColumns) -> str:
    ok = sum(j.status == "ok" for j in jobs)
    common = common_overrides(jobs)
    parts = ["# Results", "", f"{len(jobs)} jobs: {ok} ok, {len(jobs) - ok} failed. Each cell is the mean ± sample "
             "standard deviation over seeds (the jobs of a configuration that finished); n counts them. A "
             "configuration of one job shows its 95% interval over the held-out examples in brackets."]  # fmt: skip
    if common:
        parts.append("Overrides shared by every job: " + " ".join(f"`{o}`" for o in common) + ".")
    parts += ["", markdown_table(jobs, columns)]
    parts += paired_section(jobs, columns)
    parts += ["", "## Failed jobs", ""]
    failed = [j for j in jobs if j.status == "failed"]
    parts += [f"- **FAILED** `{j.folder}` ({label(j, common)}, seed {j.seed}): {j.error}" for j in failed]
    parts += [] if failed else ["None."]
    for sweep in sweeps:
        parts += optuna_section(sweep)
    return "\n".join(parts) + "\n"


def paired_section(jobs: list[Job], columns: ReportColumns) -> list[str]:
    """The paired comparisons of the configurations on their key metrics (`tracking.paired`)."""
    from contrastlab.tracking.paired import comparisons, markdown_section

    common = common_overrides(jobs)
    groups = {label(group[0], common): group for group in configurations(jobs).values()}
    if len(groups) < 2:
        return []
    return markdown_section(comparisons(groups, list(columns.key)))


def optuna_section(sweep: Path) -> list[str]:
    """The best parameters of an Optuna sweep (optimization_results.yaml), if the sweep has them."""
    results = read_yaml(sweep / "optimization_results.yaml")
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


def default_out(paths: list[Path]) -> Path:
    """The single multirun (sweep) folder given, else ./report."""
    if len(paths) == 1 and not is_run_folder(Path(paths[0])):
        return Path(paths[0])
    return Path("report")


def write_report(paths: list[Path], out: Path | None = None, columns: ReportColumns | None = None) -> Report:
    """Read the jobs under `paths` and write results.csv, results.md and the plots into `out`; `columns`: which
    metrics lead the tables and what the plots show (`contrastlab.families.report_columns()`)."""
    from contrastlab.tracking.plots import plot_frontier, plot_training_curves

    columns = columns or ReportColumns()
    if not paths:
        raise UserError("give at least one run folder or multirun folder")
    jobs, sweeps = read_jobs([Path(p) for p in paths])
    out = Path(out) if out is not None else default_out(paths)
    out.mkdir(parents=True, exist_ok=True)
    written, skipped = [out / "results.csv", out / "results.md"], []
    results_frame(jobs, columns).to_csv(written[0], index=False)
    text = markdown(jobs, sweeps, columns)
    written[1].write_text(text)
    x, y = columns.frontier[:2] if columns.frontier else ("x", "y")
    plots = {"training_curves.png": (plot_training_curves, "no job has train/loss in its log.jsonl"),
             "reward_vs_kl.png": (plot_frontier, f"no job has {x} and {y}")}  # fmt: skip
    for name, (plot, why) in plots.items():
        if plot(jobs, out / name, columns):
            written.append(out / name)
        else:
            skipped.append(f"{name}: {why}")
    return Report(jobs=jobs, written=written, skipped=skipped, markdown=text, columns=columns)


def print_report(report: Report) -> None:
    ok = sum(j.status == "ok" for j in report.jobs)
    print(f"{len(report.jobs)} jobs: {ok} ok, {len(report.jobs) - ok} failed")
    for path in report.written:
        print(f"written: {path}")
    for line in report.skipped:
        print(f"skipped {line}")
    print()
    print(markdown_table(report.jobs, report.columns))
