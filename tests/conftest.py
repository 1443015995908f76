"""Shared test fixtures: composing configs, running run.py, locating the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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


# -- an interrupted run and the run it must equal ---------------------------------------------------------------------
TIMING = ("time/total_s", "train/runtime_s", "train/samples_per_s", "train/tokens_per_s", "train/timed_s",
          "train/timed_steps", "hardware/peak_rss_gb")  # timed_steps: this train() call's, fewer after a resume


def logged_step(run_dir: Path) -> int:
    log = run_dir / "log.jsonl"
    if not log.exists():
        return 0
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines() if '"train/loss"' in line]
    return max(steps, default=0)


def interrupt(args: list[str], run_dir: Path, sig: int, at_step: int) -> subprocess.CompletedProcess:
    """Start `run.py ARGS`, send `sig` once the run has logged step `at_step`, and wait for it to end."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 300
    while logged_step(run_dir) < at_step:
        assert proc.poll() is None, f"the run ended before step {at_step}: {proc.communicate()[1][-2000:]}"
        assert time.time() < deadline, "the run never reached the step"
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def same_result(interrupted: Path, uninterrupted: Path, steps: int) -> None:
    a = json.loads((interrupted / "metrics.json").read_text())
    b = json.loads((uninterrupted / "metrics.json").read_text())
    assert a.keys() == b.keys()
    for key in a:
        if key not in TIMING:  # what a run cost differs between attempts; nothing else may
            assert a[key] == b[key], f"{key}: {a[key]} after the interruption, {b[key]} uninterrupted"
    from safetensors.torch import load_file

    x = load_file(interrupted / "model" / "model.safetensors")
    y = load_file(uninterrupted / "model" / "model.safetensors")
    assert x.keys() == y.keys() and all(x[k].equal(y[k]) for k in x)
    logged = [json.loads(line)["step"] for line in (interrupted / "log.jsonl").read_text().splitlines()
              if '"train/loss"' in line]  # fmt: skip
    assert logged == list(range(1, steps + 1))  # each step logged once: the killed attempt's later lines dropped


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
