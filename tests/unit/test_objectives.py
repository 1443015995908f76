"""Objective specs map onto TRL's configs exactly (field names and allowed values TRL 1.16 accepts)."""

from __future__ import annotations

import inspect

import pytest
from conftest import compose

from contrastlab.objectives import discover
from contrastlab.objectives.dpo import TRL_DPO_LOSS_TYPES
from contrastlab.objectives.kinds import TrlObjective
from contrastlab.objectives.trainers.trl_glue import shared_args, trl_classes

SPECS = discover()


def test_our_dpo_loss_types_are_trls():
    from trl import DPOConfig

    help_text = DPOConfig.__dataclass_fields__["loss_type"].metadata["help"]
    for loss in TRL_DPO_LOSS_TYPES:
        assert f"`'{loss}'`" in help_text
    assert help_text.count("`'") == len(TRL_DPO_LOSS_TYPES)


@pytest.mark.parametrize("name", sorted(n for n, s in SPECS.items() if isinstance(s, TrlObjective)))
def test_trl_args_are_fields_of_the_trl_config(name, tmp_path):
    spec = SPECS[name]
    cfg = compose([f"objective={name}", "model=tiny"])
    config_cls, _ = trl_classes(spec.trl_trainer)
    fields = set(inspect.signature(config_cls).parameters)
    args = spec.trl_args(cfg.objective)
    assert set(args) <= fields, set(args) - fields
    shared = {k: v for k, v in shared_args(cfg.train, cfg.hardware, tmp_path, 100).items() if k in fields}
    built = config_cls(**shared, **args)  # build_trl_trainer passes the shared fields the config has
    for key, value in args.items():
        got = getattr(built, key)
        assert got == value or (isinstance(value, str) and got == [value]), key


def test_named_objectives_map_to_the_right_trl_losses():
    def args(name, *extra):
        return SPECS[name].trl_args(compose([f"objective={name}", *extra]).objective)

    assert args("ipo")["loss_type"] == ["ipo"]
    assert args("rdpo", "objective.label_noise=0.2") | {} == {
        "beta": 0.1, "loss_type": ["robust"], "label_smoothing": 0.2, "precompute_ref_log_probs": False}  # fmt: skip
    assert args("rpo", "objective.alpha=0.5")["loss_weights"] == [1.0, 0.5]
    assert args("apo_zero")["loss_type"] == ["apo_zero"] and args("apo_down")["loss_type"] == ["apo_down"]
    assert args("simpo") == {"beta": 2.0, "loss_type": "simpo", "simpo_gamma": 1.0, "cpo_alpha": 0.0}
    assert SPECS["kto"].record.__name__ == "Unpaired" and SPECS["kto"].trl_trainer == "KTOTrainer"
    assert SPECS["reward"].family == "reward"
