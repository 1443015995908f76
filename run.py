"""contrastlab's one entry point: compose the config (Hydra), validate it, hand the run over.

    python run.py objective=dpo model=smollm2 data=rt_sentiment
    python run.py -m objective=dpo,ipo,simpo objective.beta=0.05,0.1 train.seed=0,1,2

`--help` and `--cfg job` import no torch, transformers or TRL. A mistake of the user's exits with
code 2 and one line on stderr. In a sweep (-m) a job that fails is recorded (error.json in its folder, a line on
stderr) and the sweep goes on; the command then exits with 2 when every failure was a user's mistake, else 1.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from contrastlab.app.cli import report_user_error, user_error_types
from contrastlab.config.registry import register

register()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    import math
    import traceback
    from contextlib import suppress
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from contrastlab.app.cli import one_line
    from contrastlab.errors import RefusedStart, UserError
    from contrastlab.app.pipeline import run  # heavy imports happen here, after composition
    from contrastlab.tracking.run_folder import write_json_atomic

    hc = HydraConfig.get()
    folder = Path(hc.runtime.output_dir)
    set_aside = False
    with suppress(OSError):  # an earlier attempt's failure in this folder is kept, but no longer this run's
        (folder / "error.json").replace(folder / "error.previous.json")
        set_aside = True
    try:
        value = run(cfg)
        return sweeper_value(hc) if isinstance(value, float) and math.isnan(value) else value
    except Exception as err:  # the run folder keeps a record of the failure (error.json)
        user = isinstance(err, user_error_types())
        record = {"error": one_line(err), "type": type(err).__name__, "exit_code": 2 if user else 1}
        if isinstance(err, RefusedStart):  # a refused start leaves the folder's run as it was: not failed
            if set_aside:
                with suppress(OSError):
                    (folder / "error.previous.json").replace(folder / "error.json")
        else:
            with suppress(OSError):
                write_json_atomic(folder / "error.json", record)
        if hc.mode == RunMode.MULTIRUN:  # a sweep goes on to its next job; its report marks this one failed
            message = record["error"] if user else f"{record['type']}: {record['error']}"
            if not user:  # a bug: its traceback is the bug report
                traceback.print_exc()
            print(f"contrastlab: error: {folder.name}: {message}", file=sys.stderr, flush=True)
            return sweeper_value(hc)
        if isinstance(err, UserError):  # report it here: Hydra would add a line of its own to stderr
            report_user_error(err)
            sys.exit(2)
        raise


def sweeper_value(hc) -> float:
    """What a job that failed (or measured no number) returns to the sweeper: NaN; with the Optuna sweeper the
    worst value of its direction (-inf when maximising, +inf when minimising), since hydra-optuna-sweeper 1.2 stops
    the whole search on NaN (it tells Optuna the trial failed *with* a value, which Optuna refuses)."""
    sweeper = hc.get("sweeper") or {}
    if "optuna" not in str(sweeper.get("_target_", "")).lower():
        return float("nan")
    direction = sweeper.get("direction", "minimize")  # a run returns one number: a single-objective search
    if not isinstance(direction, str) and hasattr(direction, "__len__") and len(direction):
        direction = direction[0]
    return float("-inf") if "max" in str(direction).lower() else float("inf")


# glibc serves each allocation over 32 MB (a language model's logits: batch x length x vocabulary floats) with a
# fresh mmap, zero-filled page by page and unmapped on free: on a CPU that page-fault churn made a tiny-model DPO
# step 2.5x slower (bench: 30.8 s -> 12.5 s for 10 steps). Keeping freed memory in the heap avoids it. Set
# CONTRASTLAB_MALLOC=default to opt out; an explicit GLIBC_TUNABLES is left alone.
MALLOC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"


# what only prints (help, the composed config, Hydra's info) allocates no large tensor: no re-execution for it
PRINT_ONLY = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc"}


def _reexec_with_tunables() -> None:
    if PRINT_ONLY.intersection(sys.argv[1:]):
        return
    if sys.platform.startswith("linux") and "GLIBC_TUNABLES" not in os.environ:
        if os.environ.get("CONTRASTLAB_MALLOC", "") != "default":
            env = {**os.environ, "GLIBC_TUNABLES": MALLOC_TUNABLES}
            os.execve(sys.executable, [sys.executable, *sys.argv], env)


def cli() -> int:
    _reexec_with_tunables()
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let exceptions reach us: user errors become exit 2
    from contrastlab.app import sweep_end

    sweep_end.OUTCOME = None
    try:
        main()
    except user_error_types() as err:
        report_user_error(err)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside training, or a second one in it (the first saves: see resilience)
        print("\ncontrastlab: stopped by Ctrl-C; the same command resumes from the run's newest complete checkpoint, "
              "if it has one (train.save_every)", file=sys.stderr)
        return 130
    outcome = sweep_end.OUTCOME  # set at the end of a sweep (-m) by its report callback, in this process
    if outcome is not None and outcome.failed:
        print(f"contrastlab: error: {outcome.summary()}", file=sys.stderr)
        return outcome.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(cli())
