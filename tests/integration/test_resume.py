"""A run killed (SIGKILL) or preempted (SIGTERM) after its first checkpoint, then started again with the same command,
ends with the metrics and weights of a run never interrupted; a NaN stops a run and leaves its last good checkpoint
loadable, or is skipped when so configured."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest
from conftest import interrupt, run_cli, same_result

pytestmark = pytest.mark.slow

STEPS, SAVE = 8, 2


def _args(objective: str, run_dir: Path) -> list[str]:
    return ["model=tiny", f"objective={objective}", "logger=none", f"train.max_steps={STEPS}",
            f"train.save_every={SAVE}", "data.max_eval=16", f"hydra.run.dir={run_dir}"]  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Reference runs, one per objective, trained in one go."""
    folders = {}
    for objective in ("dpo", "cdpo"):
        run_dir = tmp_path_factory.mktemp("uninterrupted") / objective
        result = run_cli(_args(objective, run_dir))
        assert result.returncode == 0, result.stderr[-2000:]
        folders[objective] = run_dir
    return folders


@pytest.mark.parametrize("objective", ["dpo", "cdpo"])  # TRL's trainer; ours
def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted, objective):
    run_dir = tmp_path / "run"
    at = random.Random(objective).randint(SAVE + 1, STEPS - 1)  # after the first checkpoint
    killed = interrupt(_args(objective, run_dir), run_dir, signal.SIGKILL, at)
    assert killed.returncode == -signal.SIGKILL
    assert not (run_dir / "metrics.json").exists()
    resumed = run_cli(_args(objective, run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout
    same_result(run_dir, uninterrupted[objective], STEPS)


@pytest.mark.parametrize("objective", ["dpo"])
def test_sigterm_saves_a_checkpoint_and_the_rerun_resumes_from_it(tmp_path, uninterrupted, objective):
    run_dir = tmp_path / "run"
    at = random.Random(objective + "term").randint(1, STEPS - 2)  # any step: SIGTERM saves its own checkpoint
    stopped = interrupt(_args(objective, run_dir), run_dir, signal.SIGTERM, at)
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert "stopped by SIGTERM" in stopped.stderr and "Traceback" not in stopped.stderr
    from contrastlab.objectives.trainers.resilience import latest_checkpoint

    saved = latest_checkpoint(run_dir / "checkpoints")
    assert saved is not None and int(saved.name.split("-")[1]) >= at
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "error.json").exists()
    resumed = run_cli(_args(objective, run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resuming from {saved}" in resumed.stdout
    same_result(run_dir, uninterrupted[objective], STEPS)


def test_sigterm_to_a_two_process_run_saves_exits_143_and_the_rerun_resumes(tmp_path):
    """The launching job passes SIGTERM on to the processes (torchrun does), they save one checkpoint, and the job
    exits with 143 and their one line: no torchrun traceback."""
    from contrastlab.objectives.trainers.resilience import latest_checkpoint

    run_dir = tmp_path / "run"
    args = [*_args("dpo", run_dir), "hardware=ddp", "hardware.num_processes=2", "train.batch_size=2"]
    stopped = interrupt(args, run_dir, signal.SIGTERM, 2)
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert "stopped by SIGTERM" in stopped.stderr
    assert "Traceback" not in stopped.stderr and "SignalException" not in stopped.stderr, stopped.stderr[-3000:]
    saved = latest_checkpoint(run_dir / "checkpoints")
    assert saved is not None and int(saved.name.split("-")[1]) >= 2
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "error.json").exists()
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resuming from {saved}" in resumed.stdout
    steps = [json.loads(line)["step"] for line in (run_dir / "log.jsonl").read_text().splitlines()
             if '"train/loss"' in line]  # fmt: skip
    assert steps == list(range(1, STEPS + 1))
    assert json.loads((run_dir / "metrics.json").read_text())["hardware/num_processes"] == 2


def test_a_half_written_checkpoint_is_ignored(tmp_path):
    from contrastlab.objectives.trainers.resilience import COMPLETE, latest_checkpoint

    folder = tmp_path / "checkpoints"
    for step, complete in ((2, True), (4, True), (6, False)):
        (folder / f"checkpoint-{step}").mkdir(parents=True)
        (folder / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"x")
        if complete:
            (folder / f"checkpoint-{step}" / COMPLETE).write_text('{"step": %d, "loss_sum": 1.0}' % step)
    (folder / "checkpoint-10").write_text("not a folder")
    assert latest_checkpoint(folder) == folder / "checkpoint-4"
    assert latest_checkpoint(tmp_path / "none") is None


def _nan_after(trainer_cls, step: int, monkeypatch, once: bool = False):
    """Make `trainer_cls.compute_loss` return NaN from optimizer step `step` on (or at that step only)."""
    original = trainer_cls.compute_loss

    def poisoned(self, model, inputs, *args, **kwargs):
        loss = original(self, model, inputs, *args, **kwargs)
        current = self.state.global_step + 1
        if current == step or (current > step and not once):
            value = loss[0] if isinstance(loss, tuple) else loss
            value = value * float("nan")
            return (value, loss[1]) if isinstance(loss, tuple) else value
        return loss

    monkeypatch.setattr(trainer_cls, "compute_loss", poisoned)


@pytest.mark.parametrize("objective", ["cdpo", "dpo"])
def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, objective):
    import torch
    from conftest import compose
    from transformers import AutoModelForCausalLM

    from contrastlab.errors import UserError
    from contrastlab.objectives.trainers.preference import PreferenceTrainer
    from contrastlab.objectives.trainers.resilience import latest_checkpoint
    from contrastlab.objectives.trainers.trl_glue import trl_classes
    from contrastlab.app.pipeline import run

    _nan_after(PreferenceTrainer if objective == "cdpo" else trl_classes("DPOTrainer")[1], 5, monkeypatch)
    cfg = compose(["model=tiny", f"objective={objective}", "logger=none", "name=test", "train.max_steps=8",
                   "train.save_every=2", "data.max_eval=8", "eval.before=false"])  # fmt: skip
    run_dir = tmp_path / "run"
    with pytest.raises(UserError, match=r"NaN or infinite at step 5 .*checkpoint-4") as caught:
        run(cfg, run_dir)
    assert "train.on_nan=skip_batch" in str(caught.value)
    assert latest_checkpoint(run_dir / "checkpoints") == run_dir / "checkpoints" / "checkpoint-4"
    assert not (run_dir / "checkpoints" / "checkpoint-6").exists() and not (run_dir / "metrics.json").exists()
    model = AutoModelForCausalLM.from_pretrained(run_dir / "checkpoints" / "checkpoint-4")
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_skip_batch_skips_the_poisoned_update_and_counts_it(tmp_path, monkeypatch):
    import torch
    from conftest import compose
    from safetensors.torch import load_file

    from contrastlab.objectives.trainers.preference import PreferenceTrainer
    from contrastlab.app.pipeline import run

    _nan_after(PreferenceTrainer, 3, monkeypatch, once=True)
    cfg = compose(["model=tiny", "objective=cdpo", "logger=none", "name=test", "train.max_steps=5",
                   "train.on_nan=skip_batch", "data.max_eval=8", "eval.before=false"])  # fmt: skip
    run(cfg, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train/skipped_batches"] == 1 and metrics["train/steps"] == 5
    weights = load_file(tmp_path / "run" / "model" / "model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())
