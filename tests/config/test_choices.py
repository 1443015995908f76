"""Every choice list is an Enum field: a misspelt choice fails when the config is composed (before validation,
before anything loads), and run.py reports it as one line naming the option and the choices, exit 2."""

from __future__ import annotations

import pytest
from conftest import compose, run_cli
from hydra.errors import ConfigCompositionException

MISSPELT = [
    ("hardware.strategy=dpp", "single, ddp, fsdp, deepspeed"),
    ("hardware.precision=fp8", "fp32, bf16, fp16, auto"),
    ("hardware.device=gpu", "cpu, cuda, auto"),
    ("hardware.fsdp.auto_wrap_policy=LAYER_WRAP", "TRANSFORMER_BASED_WRAP, SIZE_BASED_WRAP, NO_WRAP"),
    ("hardware.deepspeed.offload_param=nvme", "none, cpu"),
    ("hardware.deepspeed.offload_optimizer=nvme", "none, cpu"),
    ("hardware.backend=tcp", "nccl, gloo, mpi"),
    ("hardware.fsdp.state_dict_type=LOCAL", "FULL_STATE_DICT, SHARDED_STATE_DICT"),
    ("train.resume=sometimes", "auto, never"),
    ("train.on_nan=ignore", "stop, skip_batch"),
    ("model.pooling=max", "mean, cls, last"),
    ("model.dtype=fp32", "auto, float32, bfloat16, float16"),
    ("data.format=yaml", "auto, standard, conversational, transcript"),
    ("data.on_bad_record=warn", "error, skip"),
    ("data.benchmark=sts", "lee, wordsim353, simlex999, stsb"),
    ("logger.mode=offlne", "offline, online, disabled"),
]


@pytest.mark.parametrize("override, allowed", MISSPELT, ids=[o.split("=")[0] for o, _ in MISSPELT])
def test_a_misspelt_choice_fails_at_composition(override, allowed):
    with pytest.raises(ConfigCompositionException) as caught:
        compose(["model=tiny", override])
    assert f"expected one of [{allowed}]" in str(caught.value.__cause__ or caught.value)


def test_an_objectives_own_choice_fails_at_composition():
    with pytest.raises(ConfigCompositionException) as caught:
        compose(["model=tiny", "objective=lipo", "objective.weighting=ndcg"])
    assert "expected one of [lambda, none]" in str(caught.value.__cause__ or caught.value)


def test_run_py_reports_the_choice_in_one_line_with_exit_2():
    result = run_cli(["model=tiny", "hardware.strategy=dpp", "--cfg", "job"])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0] == "contrastlab: error: hardware.strategy=dpp is not one of single, ddp, fsdp, deepspeed"


def test_choices_compare_and_print_as_their_names():
    cfg = compose(["model=tiny", "hardware=cpu"])
    assert cfg.hardware.device == "cpu" and f"{cfg.hardware.precision}" == "fp32" and cfg.train.resume == "auto"
