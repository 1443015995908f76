"""The Hydra callback that writes the comparison report (`tracking.report`, with the families' columns) into a
sweep's folder at its end.

Registered in conf/config.yaml under `hydra.callbacks.report`. A report that fails prints a warning and never
fails the sweep. A single run (no -m) is not touched.

It also counts the sweep's failed jobs (those the report marks failed: an error.json in the job's folder, or no
metrics.json) into `OUTCOME`, which run.py turns into the command's exit code. The callback runs in the launching
process whatever the launcher (basic, joblib, submitit), so it reads the jobs' folders rather than their returns.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


@dataclass
class SweepOutcome:
    """How the jobs of a finished sweep ended."""

    sweep: Path
    jobs: int
    failed: int
    user_errors_only: bool  # every failed job failed with a user's mistake (error.json's exit_code 2)

    @property
    def exit_code(self) -> int:
        return 0 if not self.failed else 2 if self.user_errors_only else 1

    def summary(self) -> str:
        """`1 of 3 jobs failed; see <sweep>/results.md` (the sweep folder when no report was written)."""
        report = self.sweep / "results.md"
        return f"{self.failed} of {self.jobs} jobs failed; see {report if report.exists() else self.sweep}"


OUTCOME: SweepOutcome | None = None  # the last sweep's, set by `SweepEnd.on_multirun_end`; read by run.py


def sweep_outcome(sweep: Path, jobs=None) -> SweepOutcome:
    """The outcome of the jobs in the sweep folder `sweep` (`jobs`: tracking.report.Job's already read from it)."""
    from contrastlab.tracking.jobs import read_jobs

    jobs = read_jobs([sweep])[0] if jobs is None else jobs
    failed = [job for job in jobs if job.status == "failed"]
    return SweepOutcome(sweep=sweep, jobs=len(jobs), failed=len(failed),
                        user_errors_only=all(_exit_code(job.folder) == 2 for job in failed))  # fmt: skip


def _exit_code(folder: Path) -> int | None:
    """The exit code recorded in the job's error.json; None without a readable one (killed, or a broken file)."""
    try:
        return json.loads((folder / "error.json").read_text()).get("exit_code")
    except (OSError, ValueError, AttributeError):
        return None


class SweepEnd(Callback):
    """At the end of a multirun: results.csv, results.md and the plots in `hydra.sweep.dir`; the failures in
    `OUTCOME`."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        global OUTCOME
        OUTCOME = None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global OUTCOME
        sweep, jobs = Path(config.hydra.sweep.dir), None
        try:
            from contrastlab.families import report_columns
            from contrastlab.tracking.report import print_report, write_report

            print()
            report = write_report([sweep], sweep, report_columns())
            jobs = report.jobs
            print_report(report)
        except Exception as err:  # noqa: BLE001 - the sweep's jobs are done; a report must not fail it
            print(f"contrastlab: warning: no sweep report written: {type(err).__name__}: {err}", file=sys.stderr)
        try:
            OUTCOME = sweep_outcome(sweep, jobs)
        except Exception as err:  # noqa: BLE001 - e.g. no job folder at all: nothing to count
            print(f"contrastlab: warning: could not count the sweep's failed jobs: {err}", file=sys.stderr)
