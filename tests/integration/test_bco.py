"""BCO: the loss and its running reward shift delta, hand-worked; and a run killed after its first checkpoint and
resumed ends as one never interrupted (delta is saved with the checkpoint).

Hand-worked loss: rewards r = [1, -1], labels [desirable, undesirable], delta = 0.5:
  desirable:   -log sigma(1 - 0.5)     = log(1 + e^-0.5) = 0.474077
  undesirable: -log sigma(-(-1 - 0.5)) = log(1 + e^-1.5) = 0.201413
delta is the running mean of every reward seen, count-weighted: [1, 3] -> 2, then [5] -> (1 + 3 + 5) / 3 = 3 (not the
mean of the batch means, 3.5).
"""

from __future__ import annotations

import math
import random
import signal

import pytest
import torch
from conftest import compose, interrupt, run_cli, same_result

from contrastlab.objectives import discover
from contrastlab.objectives.bco import RunningMean, bco
from contrastlab.objectives.trainers.preference import SequenceBatch


def test_bco_loss_by_hand():
    loss = bco(torch.tensor([1.0, -1.0]), torch.tensor([True, False]), 0.5)
    torch.testing.assert_close(loss, torch.tensor([math.log(1 + math.exp(-0.5)), math.log(1 + math.exp(-1.5))]))
    at_zero = bco(torch.zeros(2), torch.tensor([True, False]), 0.0)  # untrained: every example costs ln 2
    torch.testing.assert_close(at_zero, torch.full((2,), math.log(2)))


def test_delta_is_the_running_mean_of_every_reward_and_round_trips():
    running = RunningMean()
    assert running.update(torch.tensor([1.0, 3.0])) == pytest.approx(2.0)
    assert running.update(torch.tensor([5.0])) == pytest.approx(3.0)
    again = RunningMean()
    again.load_state_dict(running.state_dict())
    assert (again.mean, again.count) == (running.mean, running.count) == (3.0, 3)


def test_each_step_shifts_by_delta_updated_with_its_own_rewards_first():
    """Step 1: rewards beta * log-ratio = 0.1 * [2, -2] = [0.2, -0.2] -> delta 0; step 2: [0.6, 0.4] -> delta
    (0.2 - 0.2 + 0.6 + 0.4) / 4 = 0.25, and the loss is the batch mean of bco(r, labels, 0.25)."""
    spec = discover()["bco"]
    loss_fn = spec.loss(compose(["objective=bco", "model=tiny", "objective.beta=0.1"]).objective, [])

    def batch(logratios, labels):
        ratios = torch.tensor(logratios)[:, None]  # (B, 1)
        return SequenceBatch(logps=ratios, ref_logps=torch.zeros_like(ratios), token_logps=torch.zeros(2, 1, 1),
                             mask=torch.ones(2, 1, 1), present=torch.ones(2, 1, dtype=torch.bool),
                             extras={"label": torch.tensor(labels)[:, None]})  # fmt: skip

    _, first = loss_fn(batch([2.0, -2.0], [1.0, 0.0]))
    assert first["delta"] == pytest.approx(0.0, abs=1e-7)
    loss, second = loss_fn(batch([6.0, 4.0], [1.0, 0.0]))
    assert second["delta"] == pytest.approx(0.25)
    want = bco(torch.tensor([0.6, 0.4]), torch.tensor([True, False]), 0.25).mean()
    assert loss.item() == pytest.approx(want.item(), abs=1e-6)
    assert loss_fn.state.state_dict() == {"mean": pytest.approx(0.25), "count": 4}


STEPS, SAVE = 6, 2


def _args(run_dir) -> list[str]:
    return ["model=tiny", "objective=bco", "logger=none", f"train.max_steps={STEPS}", f"train.save_every={SAVE}",
            "data.max_train=64", "data.max_eval=8", f"hydra.run.dir={run_dir}"]  # fmt: skip


@pytest.mark.slow
def test_a_killed_bco_run_resumes_to_the_uninterrupted_result(tmp_path):
    uninterrupted = tmp_path / "once"
    result = run_cli(_args(uninterrupted))
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = tmp_path / "run"
    at = random.Random("bco").randint(SAVE + 1, STEPS - 1)  # after the first checkpoint
    killed = interrupt(_args(run_dir), run_dir, signal.SIGKILL, at)
    assert killed.returncode == -signal.SIGKILL
    saved = sorted((run_dir / "checkpoints").glob("checkpoint-*/loss_state.json"))
    assert saved, "no checkpoint kept delta"
    resumed = run_cli(_args(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout
    same_result(run_dir, uninterrupted, STEPS)  # metrics (train/loss, every logged delta's effect) and weights equal
