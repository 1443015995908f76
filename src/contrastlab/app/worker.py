"""One of the processes of a run that `app.launch` starts (`hardware.num_processes` > 1, FSDP, DeepSpeed):

    python -m contrastlab.app.worker RUN_DIR --name RUN_NAME [--group SWEEP_GROUP]

started by `accelerate launch`, never by hand. It plans the config the launching job saved in
`RUN_DIR/.hydra/config.yaml` (the same machine resolves the same hardware) and runs its job in this process;
accelerate (through transformers' TrainingArguments) makes the process group.
A mistake of the user's is written to `error.json` and the worker exits with code 0, leaving the launching job to
report it (exit code 2, one line); any other failure keeps its traceback and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from contrastlab.distributed import WORKER_ENV, is_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contrastlab.app.worker", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--group", default=None)
    args = parser.parse_args(argv)
    os.environ[WORKER_ENV] = "1"

    from omegaconf import OmegaConf

    from contrastlab.app.cli import one_line, user_error_types
    from contrastlab.tracking.run_folder import write_json_atomic

    cfg = OmegaConf.load(args.run_dir / ".hydra" / "config.yaml")
    if cfg.hardware.device == "cuda":
        import torch

        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))  # "cuda" is this process's GPU from here on
    from contrastlab.app.job import run_job
    from contrastlab.app.plan import make_plan

    try:
        run_job(make_plan(cfg, args.run_dir, run_name=args.name, sweep_group=args.group, dependencies=False))
    except user_error_types() as err:
        if is_main():
            write_json_atomic(args.run_dir / "error.json", {"error": one_line(err), "type": type(err).__name__,
                                                            "exit_code": 2})  # fmt: skip
        return 0
    except Exception as err:
        if is_main():
            write_json_atomic(args.run_dir / "error.json", {"error": one_line(err), "type": type(err).__name__,
                                                            "exit_code": 1})  # fmt: skip
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
