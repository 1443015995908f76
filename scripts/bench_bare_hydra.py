"""The `--help` bench's baseline: a bare Hydra app over the same config tree (conf/ and the registered schemas),
whose task does nothing. `python scripts/bench_bare_hydra.py --help` against `python run.py --help`."""

from __future__ import annotations

import hydra

from contrastlab.config.registry import register

register()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg) -> None:
    return None


if __name__ == "__main__":
    main()
