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
    from contrastlab.runner import run  # heavy imports happen here, after composition

    return run(cfg)


def cli() -> int:
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let exceptions reach us: user errors become exit 2
    try:
        main()
    except user_error_types() as err:
        report_user_error(err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
