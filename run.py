"""contrastlab's one entry point: compose the config (Hydra), validate it, hand the run over.

    python run.py objective=dpo model=smollm2 data=rt_sentiment
    python run.py -m objective=dpo,ipo,simpo objective.beta=0.05,0.1 train.seed=0,1,2

`--help` and `--cfg job` import no torch, transformers or TRL. A mistake of the user's exits with
code 2 and one line on stderr.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from contrastlab.cli import report_user_error, user_error_types
from contrastlab.config.registry import register

register()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from contextlib import suppress
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig

    from contrastlab.cli import one_line
    from contrastlab.errors import UserError
    from contrastlab.runner import run  # heavy imports happen here, after composition
    from contrastlab.tracking.run_folder import write_json_atomic

    try:
        return run(cfg)
    except Exception as err:  # the run folder keeps a record of the failure (error.json); the error goes on as before
        record = {"error": one_line(err), "type": type(err).__name__,
                  "exit_code": 2 if isinstance(err, user_error_types()) else 1}  # fmt: skip
        with suppress(OSError):
            write_json_atomic(Path(HydraConfig.get().runtime.output_dir) / "error.json", record)
        if isinstance(err, UserError):  # report it here: Hydra would add a line of its own to stderr
            report_user_error(err)
            sys.exit(2)
        raise


# glibc serves each allocation over 32 MB (a language model's logits: batch x length x vocabulary floats) with a
# fresh mmap, zero-filled page by page and unmapped on free: on a CPU that page-fault churn made a tiny-model DPO
# step 2.5x slower (bench: 30.8 s -> 12.5 s for 10 steps). Keeping freed memory in the heap avoids it. Set
# CONTRASTLAB_MALLOC=default to opt out; an explicit GLIBC_TUNABLES is left alone.
MALLOC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296"


def _reexec_with_tunables() -> None:
    if sys.platform.startswith("linux") and "GLIBC_TUNABLES" not in os.environ:
        if os.environ.get("CONTRASTLAB_MALLOC", "") != "default":
            env = {**os.environ, "GLIBC_TUNABLES": MALLOC_TUNABLES}
            os.execve(sys.executable, [sys.executable, *sys.argv], env)


def cli() -> int:
    _reexec_with_tunables()
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let exceptions reach us: user errors become exit 2
    try:
        main()
    except user_error_types() as err:
        report_user_error(err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
