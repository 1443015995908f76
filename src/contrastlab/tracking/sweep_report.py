"""The Hydra callback that writes the comparison report (contrastlab.compare) into a sweep's folder at its end.

Registered in conf/config.yaml under `hydra.callbacks.report`. A report that fails prints a warning and never
fails the sweep. A single run (no -m) is not touched.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepReport(Callback):
    """At the end of a multirun: results.csv, results.md and the plots in `hydra.sweep.dir`."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            from contrastlab.compare import print_report, write_report

            sweep = Path(config.hydra.sweep.dir)
            print()
            print_report(write_report([sweep], sweep))
        except Exception as err:  # noqa: BLE001 - the sweep's jobs are done; a report must not fail it
            print(f"contrastlab: warning: no sweep report written: {type(err).__name__}: {err}", file=sys.stderr)
