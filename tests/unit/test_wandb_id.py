"""A run folder has one W&B run id (from its absolute path), so a run resumed in the same folder continues the same
W&B run and another folder gets another run."""

from __future__ import annotations

import re
import time

import pytest
from conftest import compose

from contrastlab.tracking.wandb_run import open_wandb, wandb_run_id


def test_the_run_id_is_16_hex_digits_of_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_id = wandb_run_id(tmp_path / "outputs" / "a")
    assert re.fullmatch(r"[0-9a-f]{16}", run_id)
    assert wandb_run_id("outputs/a") == run_id == wandb_run_id(tmp_path / "outputs" / "b" / ".." / "a")  # relative
    assert wandb_run_id(tmp_path / "outputs" / "b") != run_id


@pytest.mark.slow
def test_opening_the_same_folder_twice_continues_the_same_wandb_run(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger = compose(["logger=wandb"]).logger
    assert logger.mode == "offline"
    folder, other = tmp_path / "run", tmp_path / "other"
    ids = []
    for run_dir in (folder, folder, other):  # each W&B run finished before the next one opens
        run_dir.mkdir(exist_ok=True)
        run = open_wandb(logger, {"train": {"seed": 0}}, run_dir, run_dir.name, None)
        ids.append(run.id)
        run.log({"train/loss": 1.0}, step=1)
        run.finish()
        time.sleep(1.1)  # offline-run-<time to the second>-<id>: one folder per attempt
    assert ids[0] == ids[1] == wandb_run_id(folder)
    assert ids[2] == wandb_run_id(other) != ids[0]
    attempts = sorted((folder / "wandb").glob("offline-run-*"))
    assert len(attempts) == 2 and all(p.name.endswith(f"-{ids[0]}") for p in attempts)  # `wandb sync` joins them
    assert [p.name.rsplit("-", 1)[1] for p in (other / "wandb").glob("offline-run-*")] == [ids[2]]
