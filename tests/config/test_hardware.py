"""The hardware configs: every one composes and validates; options of DDP, FSDP and DeepSpeed that contradict each
other stop the run before any process starts (exit code 2, one line); the engine's options reach transformers."""

from __future__ import annotations

import pytest
from conftest import CONF, compose, run_cli

from contrastlab.config.validate import validate
from contrastlab.errors import UserError

HARDWARE = sorted(p.stem for p in (CONF / "hardware").glob("*.yaml"))


def test_the_scale_out_configs_exist():
    assert {"cpu", "gpu", "ddp", "fsdp", "deepspeed", "deepspeed_zero3"} <= set(HARDWARE)


@pytest.mark.parametrize("name", HARDWARE)
def test_every_hardware_config_composes_and_validates(name):
    cfg = compose([f"hardware={name}", "model=tiny"])
    validate(cfg)
    assert cfg.hardware.name == name
    expected = {"cpu": "single", "gpu": "single", "deepspeed_zero3": "deepspeed"}.get(name, name)
    assert cfg.hardware.strategy == expected


def test_the_zero3_config_shards_parameters_and_zero2_does_not():
    assert compose(["hardware=deepspeed"]).hardware.deepspeed.zero_stage == 2
    assert compose(["hardware=deepspeed_zero3"]).hardware.deepspeed.zero_stage == 3


CONTRADICTIONS = {
    "one process asked for several": (["hardware=cpu", "hardware.num_processes=2"], "use hardware=ddp"),
    "no process": (["hardware=ddp", "hardware.num_processes=0"], "at least 1"),
    "nccl on the CPU": (["hardware=ddp", "hardware.device=cpu", "hardware.backend=nccl"], "gloo"),
    "deepspeed on the CPU": (["hardware=deepspeed", "hardware.device=cpu", "hardware.precision=fp32"], "CUDA GPUs"),
    "fsdp offloading to the CPU it runs on": (["hardware=fsdp", "hardware.device=cpu",
                                               "hardware.fsdp.cpu_offload=true"], "drop it"),  # fmt: skip
    "two activation checkpointings": (["hardware=fsdp", "hardware.fsdp.activation_checkpointing=true",
                                       "train.gradient_checkpointing=true"], "keep one"),  # fmt: skip
    "size wrap without a size": (["hardware=fsdp", "hardware.fsdp.auto_wrap_policy=SIZE_BASED_WRAP"],
                                 "min_num_params"),  # fmt: skip
    "layer classes ignored": (["hardware=fsdp", "hardware.fsdp.auto_wrap_policy=NO_WRAP",
                               "hardware.fsdp.transformer_layer_cls_to_wrap=[LlamaDecoderLayer]"],
                              "ignores it"),  # fmt: skip
    "sharded weights in model/": (["hardware=fsdp", "hardware.fsdp.state_dict_type=SHARDED_STATE_DICT"],
                                  "FULL_STATE_DICT"),  # fmt: skip
    "zero-2 offloading parameters": (["hardware=deepspeed", "hardware.deepspeed.offload_param=cpu"],
                                     "needs ZeRO stage 3"),  # fmt: skip
    "zero stage 4": (["hardware=deepspeed", "hardware.deepspeed.zero_stage=4"], "1, 2 or 3"),
    "missing deepspeed file": (["hardware=deepspeed", "hardware.deepspeed.config=/nonexistent/ds.json"],
                               "is not a file"),  # fmt: skip
    "fp16 training of bf16 weights": (["hardware=deepspeed", "hardware.precision=fp16", "model.dtype=bfloat16",
                                       "model.lora.enabled=true"],
                                      "one half precision"),  # fmt: skip
    "gradcache with several processes": (["hardware=ddp", "hardware.num_processes=2", "objective=simcse",
                                          "model=tiny_encoder", "data=lee", "objective.mini_batch_size=4"],
                                         "GradCache"),  # fmt: skip
    "an encoder under fsdp": (["hardware=fsdp", "objective=simcse", "model=tiny_encoder", "data=lee"],
                              "use hardware=ddp"),  # fmt: skip
}


@pytest.mark.parametrize("case", sorted(CONTRADICTIONS))
def test_contradictory_options_are_refused_by_validation(case):
    overrides, fragment = CONTRADICTIONS[case]
    with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        validate(compose(["model=tiny", *overrides]))


@pytest.mark.parametrize("overrides", [
    ["hardware=fsdp", "hardware.num_processes=2", "hardware.fsdp.activation_checkpointing=true",
     "train.gradient_checkpointing=true"],
    ["hardware=deepspeed", "hardware.num_processes=2", "hardware.deepspeed.offload_param=cpu"],
])  # fmt: skip
def test_contradictions_exit_2_before_any_process_starts(tmp_path, overrides):
    result = run_cli(["model=tiny", "logger=none", f"hydra.run.dir={tmp_path / 'run'}", *overrides])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("contrastlab: error: ")
    assert "Traceback" not in result.stderr
    assert "Starting" not in result.stdout  # the launcher never ran
    assert not (tmp_path / "run" / "log.jsonl").exists()


def test_what_only_the_machine_knows_is_checked_before_launch():
    from contrastlab.app.launch import check_launch
    from contrastlab.app.plan import resolve_hardware

    gpus = compose(["hardware=ddp", "hardware.device=cuda", "hardware.num_processes=2"]).hardware
    with pytest.raises(UserError, match="none is visible"):  # this machine has no GPU
        check_launch(gpus)
    cpu = compose(["hardware=ddp"]).hardware
    with pytest.raises(UserError, match="give a number"):  # one process per GPU, and there is none
        resolve_hardware(cpu)
    cpu = compose(["hardware=ddp", "hardware.num_processes=2"]).hardware
    resolved = resolve_hardware(cpu)
    assert (resolved.device, resolved.precision, resolved.num_processes) == ("cpu", "fp32", 2)
    assert (cpu.device, cpu.precision) == ("auto", "auto")  # the config itself is never edited


def test_deepspeed_is_an_optional_extra():
    import importlib.util
    import tomllib

    from conftest import ROOT

    from contrastlab.app.launch import check_launch

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("deepspeed") for dep in project["optional-dependencies"]["deepspeed"])
    assert not any(dep.startswith("deepspeed") for dep in project["dependencies"])
    if importlib.util.find_spec("deepspeed") is None:  # the default install: a clear message, before launch
        hw = compose(["hardware=deepspeed", "hardware.num_processes=1"]).hardware
        hw.device = "cpu"  # (refused by validation; here only the installation is checked)
        with pytest.raises(UserError, match=r"pip install 'contrastlab\[deepspeed\]'"):
            check_launch(hw)


def test_fsdp_options_become_transformers_fsdp_config():
    from transformers import TrainingArguments

    from contrastlab.objectives.trainers.trl_glue import engine_args

    cfg = compose(["hardware=fsdp", "hardware.num_processes=2", "hardware.fsdp.reshard_after_forward=false",
                   "hardware.fsdp.activation_checkpointing=true",
                   "hardware.fsdp.transformer_layer_cls_to_wrap=[LlamaDecoderLayer]"])  # fmt: skip
    args = engine_args(cfg.hardware, cfg.train)
    assert args["ddp_backend"] == "nccl" and args["gradient_checkpointing"] is False
    fsdp = {key: args[key] for key in ("fsdp", "fsdp_config")}  # the backend would want a process group here
    plugin = TrainingArguments(output_dir="/tmp/unused", use_cpu=True, **fsdp).fsdp_plugin_args
    assert plugin["fsdp_version"] == 2
    assert plugin["reshard_after_forward"] is False
    assert plugin["activation_checkpointing"] is True
    assert plugin["transformer_cls_names_to_wrap"] == "LlamaDecoderLayer"
    assert plugin["state_dict_type"] == "FULL_STATE_DICT"


def _autos(config: dict) -> list[str]:
    return [k for k, v in config.items() if v == "auto"] + [
        f"{k}.{inner}" for k, v in config.items() if isinstance(v, dict) for inner in _autos(v)]


def test_deepspeed_options_become_a_zero_config_with_no_auto_left(tmp_path):
    """TRL hands this config to DeepSpeed for its reference copy before transformers fills any "auto" value."""
    from contrastlab.objectives.trainers.trl_glue import engine_args

    cfg = compose(["hardware=deepspeed", "hardware.num_processes=2", "hardware.deepspeed.offload_optimizer=cpu",
                   "train.batch_size=3", "train.grad_accum=4", "train.lr=2e-5", "train.max_grad_norm=0.5"])
    zero2 = engine_args(cfg.hardware, cfg.train, hidden_size=64)["deepspeed"]
    assert zero2["zero_optimization"]["stage"] == 2
    assert zero2["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
    assert "offload_param" not in zero2["zero_optimization"]
    assert _autos(zero2) == []
    assert (zero2["train_micro_batch_size_per_gpu"], zero2["gradient_accumulation_steps"],
            zero2["train_batch_size"]) == (3, 4, 24)  # fmt: skip
    assert zero2["gradient_clipping"] == 0.5 and zero2["optimizer"]["params"]["lr"] == 2e-5
    assert zero2["bf16"]["enabled"] is True and zero2["fp16"]["enabled"] is False
    assert zero2["zero_optimization"]["reduce_bucket_size"] == 64 * 64
    cfg3 = compose(["hardware=deepspeed_zero3", "hardware.num_processes=2", "hardware.deepspeed.offload_param=cpu"])
    zero3 = engine_args(cfg3.hardware, cfg3.train, hidden_size=64)["deepspeed"]
    assert zero3["zero_optimization"]["stage"] == 3
    assert zero3["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert zero3["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert zero3["zero_optimization"]["stage3_param_persistence_threshold"] == 640 and _autos(zero3) == []
    no_hidden = engine_args(cfg3.hardware, cfg3.train)["deepspeed"]  # DeepSpeed's own bucket sizes
    assert _autos(no_hidden) == [] and "reduce_bucket_size" not in no_hidden["zero_optimization"]


def test_a_deepspeed_config_file_gets_its_auto_values_filled(tmp_path):
    import json

    from contrastlab.objectives.trainers.trl_glue import engine_args

    own = tmp_path / "ds.json"
    own.write_text(json.dumps({"zero_optimization": {"stage": 2, "reduce_bucket_size": "auto"},
                               "bf16": {"enabled": "auto"}, "train_micro_batch_size_per_gpu": "auto",
                               "gradient_accumulation_steps": 2}))  # fmt: skip
    cfg = compose(["hardware=deepspeed", "hardware.num_processes=2", f"hardware.deepspeed.config={own}",
                   "train.batch_size=5"])
    config = engine_args(cfg.hardware, cfg.train, hidden_size=8)["deepspeed"]
    assert config == {"zero_optimization": {"stage": 2, "reduce_bucket_size": 64}, "bf16": {"enabled": True},
                      "train_micro_batch_size_per_gpu": 5, "gradient_accumulation_steps": 2}  # fmt: skip
    own.write_text(json.dumps({"scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": "auto"}}}))
    with pytest.raises(UserError, match=r"scheduler.params.warmup_num_steps as \"auto\""):
        engine_args(cfg.hardware, cfg.train)


def test_one_process_gets_no_engine_arguments():
    from contrastlab.objectives.trainers.trl_glue import engine_args

    cpu = compose(["hardware=cpu"])
    assert engine_args(cpu.hardware, cpu.train) == {}
    ddp = compose(["hardware=ddp", "hardware.device=cpu", "hardware.num_processes=2"])
    ddp = engine_args(ddp.hardware, ddp.train)
    assert ddp == {"ddp_backend": "gloo", "ddp_find_unused_parameters": False}
