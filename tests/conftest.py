"""Shared test fixtures: composing configs, running run.py, locating the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
FIXTURES = ROOT / "tests" / "fixtures"

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def compose(overrides: list[str]):
    """The composed config for `overrides`, exactly as run.py would compose it (without running)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from contrastlab.config.registry import register

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def data(**fields):
    """A DataConfig as Hydra would give it (a structured DictConfig)."""
    from omegaconf import OmegaConf

    from contrastlab.config.schema import DataConfig

    fields.setdefault("name", fields.get("source", "test"))
    return OmegaConf.structured(DataConfig(**fields))


def file_cfg(path, **fields):
    """The DataConfig of data.source=file for `path`, nothing held out unless asked."""
    return data(source="file", path=str(path), eval_fraction=fields.pop("eval_fraction", 0.0), **fields)


def run_cli(args: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run `python run.py ARGS` as a user would; returns the CompletedProcess."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(autouse=True)
def _ref_cache_in_tmp(tmp_path_factory, monkeypatch):
    """Runs in this process that leave `cache_dir` null cache reference log-probs under a temporary folder, never
    in ~/.cache."""
    from contrastlab.objectives.trainers import ref_cache

    folder = tmp_path_factory.mktemp("ref_cache")
    original = ref_cache.resolve_cache_dir
    monkeypatch.setattr(ref_cache, "resolve_cache_dir", lambda configured=None: original(configured or str(folder)))


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
