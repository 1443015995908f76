"""Hydra launchers carry a sweep elsewhere: local parallel processes (joblib), submitit's local executor (a cluster
sweep tried on one machine), and a SLURM cluster (the config composes; no cluster here)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

SMALL = ["experiment=quick", "objective.beta=0.1,0.2", "train.max_steps=2", "data.max_train=24", "data.max_eval=8",
         "save_model=false"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                                      ["hydra/launcher=submitit_local"]], ids=["joblib", "submitit_local"])  # fmt: skip
def test_a_two_job_sweep_through_a_launcher_leaves_two_run_folders(launcher, tmp_path):
    sweep = tmp_path / "sweep"
    out = run_cli(["-m", *launcher, *SMALL, f"hydra.sweep.dir={sweep}"])
    assert out.returncode == 0, out.stderr[-2000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / ".hydra").is_dir())
    assert [p.name for p in jobs] == ["0_quick-dpo", "1_quick-dpo"]
    betas = set()
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["train/steps"] == 2
        betas.add((job / ".hydra" / "overrides.yaml").read_text().count("objective.beta=0.1"))
    assert betas == {0, 1}  # one job per beta
    assert "0_quick-dpo" in (sweep / "results.csv").read_text()  # the sweep's report, written at its end


def test_the_slurm_launcher_config_composes_with_its_cluster_fields():
    out = run_cli(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "--cfg", "hydra"])
    assert out.returncode == 0, out.stderr
    assert "hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in out.stdout
    for line in ("partition: gpu", "gpus_per_node: 1", "timeout_min: 240"):
        assert line in out.stdout


def test_the_plugins_own_submitit_slurm_config_composes_too():
    out = run_cli(["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=8",
                   "hardware=fsdp", "hardware.num_processes=8", "--cfg", "hydra"])  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in out.stdout
    assert "partition: gpu" in out.stdout and "gpus_per_node: 8" in out.stdout
