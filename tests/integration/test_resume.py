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
    assert "train/train_loss" not in (run_dir / "log.jsonl").read_text()  # no summary line of the stopped attempt


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


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_a_damaged_newest_checkpoint_is_moved_aside_and_the_one_before_resumes(tmp_path, uninterrupted):
    """The issue's case: the newest checkpoint's weights and optimizer are cut short after the kill (a disk error,
    an interrupted copy); the same command warns, moves it aside and resumes from the one before, to the result of
    a run never interrupted."""
    from contrastlab.objectives.trainers.resilience import complete_checkpoints

    run_dir = tmp_path / "run"
    killed = interrupt(_args("dpo", run_dir), run_dir, signal.SIGKILL, 2 * SAVE + 1)
    assert killed.returncode == -signal.SIGKILL
    saved = complete_checkpoints(run_dir / "checkpoints")
    assert len(saved) >= 2, saved
    newest, before = saved[-1], saved[-2]
    _cut_short(newest / "model.safetensors")
    _cut_short(newest / "optimizer.pt")
    resumed = run_cli(_args("dpo", run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr
    warning = [line for line in resumed.stderr.splitlines() if "is damaged" in line]
    assert len(warning) == 1 and "model.safetensors" in warning[0] and f"{newest.name}.damaged" in warning[0]
    assert (run_dir / "checkpoints" / f"{newest.name}.damaged" / "model.safetensors").is_file()  # kept, not deleted
    assert f"Resuming from {before}" in resumed.stdout
    same_result(run_dir, uninterrupted["dpo"], STEPS)


def test_with_no_checkpoint_that_verifies_the_run_starts_over_and_says_so(tmp_path, uninterrupted):
    from contrastlab.objectives.trainers.resilience import complete_checkpoints

    run_dir = tmp_path / "run"
    killed = interrupt(_args("dpo", run_dir), run_dir, signal.SIGKILL, SAVE + 1)
    assert killed.returncode == -signal.SIGKILL
    for checkpoint in complete_checkpoints(run_dir / "checkpoints"):
        _cut_short(checkpoint / "model.safetensors")
        _cut_short(checkpoint / "optimizer.pt")
    restarted = run_cli(_args("dpo", run_dir))
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert "starts over from step 0" in restarted.stderr and "Resuming from" not in restarted.stdout
    same_result(run_dir, uninterrupted["dpo"], STEPS)


def test_a_resume_with_a_changed_config_exits_2_and_keeps_the_folders_config(tmp_path):
    """The issue's case: killed after a checkpoint, started again in the same folder with another beta and learning
    rate: exit 2 before any weight loads, naming both keys and their values, and .hydra/ still describes the run
    that happened; raising max_steps (to continue a run) and changing logging are allowed."""
    run_dir = tmp_path / "run"
    args = _args("dpo", run_dir)
    killed = interrupt(args, run_dir, signal.SIGKILL, SAVE + 1)
    assert killed.returncode == -signal.SIGKILL
    before = _snapshot(run_dir)
    changed = run_cli([*args, "objective.beta=0.5", "train.lr=1e-3"])
    assert changed.returncode == 2, changed.stderr[-2000:]
    lines = changed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in changed.stderr, changed.stderr
    assert "objective.beta: 0.1 when it started, 0.5 now" in lines[0]
    assert "train.lr" in lines[0] and "hydra.run.dir=" in lines[0] and "train.resume=never" in lines[0]
    assert _snapshot(run_dir) == before  # every file of the folder as the killed run left it, .hydra/ included
    longer = run_cli([*[a for a in args if not a.startswith("train.max_steps")], f"train.max_steps={STEPS + 2}",
                      "train.log_every=2"])  # fmt: skip
    assert longer.returncode == 0, longer.stderr[-2000:]
    assert "Resuming from" in longer.stdout
    assert f"train.max_steps raised from {STEPS} to {STEPS + 2}" in longer.stdout  # and why it is not a longer run
    assert "linear decay" in longer.stdout
    assert json.loads((run_dir / "metrics.json").read_text())["train/steps"] == STEPS + 2


def test_the_first_ctrl_c_saves_and_exits_130_and_the_rerun_resumes(tmp_path, uninterrupted):
    """Ctrl-C with the default train.save_every=0: the step finishes, a checkpoint is saved, one line says how to
    resume, exit 130 and no traceback; the same command then ends with the uninterrupted run's result."""
    from contrastlab.objectives.trainers.resilience import latest_checkpoint

    run_dir = tmp_path / "run"
    args = [a for a in _args("dpo", run_dir) if not a.startswith("train.save_every")]
    stopped = interrupt(args, run_dir, signal.SIGINT, 3)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr and "KeyboardInterrupt" not in stopped.stderr, stopped.stderr[-3000:]
    assert "stopped by Ctrl-C after step" in stopped.stderr and f"hydra.run.dir={run_dir}" in stopped.stderr
    saved = latest_checkpoint(run_dir / "checkpoints")
    assert saved is not None and int(saved.name.split("-")[1]) >= 3
    resumed = run_cli(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resuming from {saved}" in resumed.stdout
    same_result(run_dir, uninterrupted["dpo"], STEPS)


def test_a_full_disk_while_saving_a_checkpoint_exits_2_and_keeps_the_previous_one(tmp_path, monkeypatch):
    """The disk fills while the second checkpoint is saved (its files' writes fail with ENOSPC): exit 2 with one line
    naming the path and the free space, the first checkpoint intact and resumable, no metrics.json."""
    import errno
    import os

    import torch
    from conftest import compose

    from contrastlab.app.pipeline import run
    from contrastlab.errors import UserError
    from contrastlab.objectives.trainers.resilience import damage, latest_checkpoint

    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(f, (str, Path)) and f"checkpoint-{2 * SAVE}" in str(f):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    run_dir = tmp_path / "run"
    cfg = compose(["model=tiny", "objective=dpo", "logger=none", f"train.max_steps={STEPS}",
                   f"train.save_every={SAVE}", "data.max_eval=16", "name=test"])  # fmt: skip
    with pytest.raises(UserError) as failed:
        run(cfg, run_dir)
    message = str(failed.value)
    assert f"could not write {run_dir}/checkpoints/checkpoint-{2 * SAVE}/" in message, message
    assert "No space left on device" in message and "GB free on its disk" in message, message
    assert f"checkpoint-{SAVE}, is intact" in message
    assert not (run_dir / "metrics.json").exists()
    kept = latest_checkpoint(run_dir / "checkpoints")
    assert kept.name == f"checkpoint-{SAVE}" and damage(kept) is None
