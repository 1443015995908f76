"""The shared reference log-prob cache in real runs of the tiny model (`objective.precompute_ref=true`), for TRL's
DPOTrainer (`dpo`) and our PreferenceTrainer (`cdpo`): the second job of a beta sweep hits the cache (the reference
forward pass does not run) and trains exactly as without the cache; another model (seed), data or max length misses.
The cache lives in the test's tmp folder (`cache_dir=`), never in ~/.cache."""

from __future__ import annotations

import json

import pytest
from conftest import compose
from test_train_objectives import TINY

from contrastlab.app.pipeline import run

QUICK = ["objective.precompute_ref=true", "eval.before=false", "eval.after=false", "save_model=false"]


@pytest.fixture
def reference_passes(monkeypatch):
    """Counts the reference forward passes of TRL's DPOTrainer and of our PreferenceTrainer (one call a batch)."""
    from trl import DPOTrainer

    from contrastlab.objectives.trainers.preference import PreferenceTrainer

    calls = []
    for cls, name in ((DPOTrainer, "compute_ref_log_probs"), (PreferenceTrainer, "reference_logps")):
        original = getattr(cls, name)

        def counted(self, *args, _original=original, **kwargs):
            calls.append(type(self).__name__)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)
    return calls


@pytest.fixture
def cache_infos(monkeypatch):
    """The `ref_cache_info` of every trainer the runner builds (what goes into metrics.json)."""
    from contrastlab.objectives.kinds import SequenceObjective, TrlObjective

    infos = []
    for kind in (TrlObjective, SequenceObjective):
        original = kind.build_trainer

        def recorded(self, ctx, _original=original):
            trainer, num = _original(self, ctx)
            infos.append(getattr(trainer, "ref_cache_info", None))
            return trainer, num

        monkeypatch.setattr(kind, "build_trainer", recorded)
    return infos


def _job(tmp_path, folder, objective, *overrides, ref_cache=True):
    cfg = compose([f"objective={objective}", *TINY, *QUICK, f"cache_dir={tmp_path / 'cache'}",
                   f"train.ref_cache={str(ref_cache).lower()}", *overrides])  # fmt: skip
    run(cfg, run_dir=tmp_path / folder)
    rows = [json.loads(x) for x in (tmp_path / folder / "log.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in rows if "train/loss" in r]


def _entries(tmp_path) -> list[str]:
    root = tmp_path / "cache" / "ref_logps"
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["dpo", "cdpo"])  # TRL's DPOTrainer, our PreferenceTrainer
def test_second_job_of_a_beta_sweep_hits_and_trains_as_without_the_cache(objective, tmp_path, reference_passes,
                                                                         cache_infos, capsys):  # fmt: skip
    _job(tmp_path, "beta0.1", objective, "objective.beta=0.1")
    assert reference_passes and "reference log-probs: computed in" in capsys.readouterr().out
    entries = _entries(tmp_path)
    assert len(entries) == 1
    key = json.loads((tmp_path / "cache" / "ref_logps" / entries[0] / "key.json").read_text())
    expected = "trl.DPOTrainer" if objective == "dpo" else "contrastlab.PreferenceTrainer"
    assert key["parts"]["trainer"] == expected and key["parts"]["settings"]["max_length"] == 64

    reference_passes.clear()
    cached = _job(tmp_path, "beta0.2", objective, "objective.beta=0.2")
    assert reference_passes == []  # the reference forward pass did not run
    assert f"reference log-probs: cache hit ({tmp_path / 'cache' / 'ref_logps' / entries[0]})" in capsys.readouterr().out
    assert _entries(tmp_path) == entries

    uncached = _job(tmp_path, "beta0.2-nocache", objective, "objective.beta=0.2", ref_cache=False)
    assert reference_passes  # computed again, and nothing read or written
    assert "reference log-probs: c" not in capsys.readouterr().out and _entries(tmp_path) == entries
    assert len(cached) == 3 and cached == uncached  # exactly
    missed, hit, off = cache_infos
    assert missed["ref_cache/hit"] == 0.0 and hit["ref_cache/hit"] == 1.0 and off in (None, {})
    assert 0 < hit["ref_cache/fingerprint_s"] <= hit["ref_cache/seconds"]


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["dpo", "cdpo"])
def test_another_model_data_or_max_length_misses(objective, tmp_path, reference_passes, capsys):
    _job(tmp_path, "first", objective)
    seen = _entries(tmp_path)
    # the tiny model's weights are drawn from train.seed (no LoRA: the reference is those weights)
    for change in ("train.seed=1", "data.max_train=20", "train.max_length=48"):
        reference_passes.clear()
        capsys.readouterr()
        _job(tmp_path, change.replace("=", "-"), objective, change)
        assert reference_passes, f"{change}: the reference forward pass did not run"
        assert "cache hit" not in capsys.readouterr().out
        now = _entries(tmp_path)
        assert len(now) == len(seen) + 1, f"{change}: no new cache entry"
        seen = now


@pytest.mark.slow
def test_a_lora_run_reuses_the_frozen_base_runs_entry(tmp_path, reference_passes, capsys):
    """With LoRA the reference is the base with the adapter off: the same weights as a run without LoRA."""
    _job(tmp_path, "full", "dpo")
    reference_passes.clear()
    cached = _job(tmp_path, "lora", "dpo", "model.lora.enabled=true")
    assert reference_passes == [] and "cache hit" in capsys.readouterr().out
    assert cached == _job(tmp_path, "lora-nocache", "dpo", "model.lora.enabled=true", ref_cache=False)
