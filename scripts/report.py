"""The comparison report of finished runs: a table per configuration (mean ± std over seeds) and plots.

    python scripts/report.py multirun/<date>_<time>                 # writes into the sweep folder
    python scripts/report.py RUN_OR_SWEEP [RUN_OR_SWEEP ...] --out DIR   # default ./report

Writes results.csv (one row per job), results.md (one row per configuration, and the failed jobs),
training_curves.png and, when jobs measured generations, reward_vs_kl.png. See contrastlab.tracking.report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contrastlab.app.cli import report_user_error
from contrastlab.errors import UserError
from contrastlab.families import report_columns
from contrastlab.tracking.report import print_report, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a run folder or a multirun folder")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default: the single multirun folder given, else ./report)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        print_report(write_report(args.paths, args.out, report_columns()))
    except UserError as err:
        report_user_error(err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
