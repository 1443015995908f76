"""The GPU paths whose cause shows on the CPU: the DeepSpeed launch line, no DataParallel, the NaN guard under
DeepSpeed, the reward recipe's hardware, and what the cost metrics time."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from conftest import compose

from contrastlab.app.plan import resolve_hardware


@pytest.mark.parametrize("hardware, engine", [("deepspeed", "use_deepspeed"), ("deepspeed_zero3", "use_deepspeed"),
                                              ("fsdp", "use_fsdp"), ("ddp", "multi_gpu")])  # fmt: skip
def test_the_launch_line_parses_with_accelerates_own_parser(hardware, engine, tmp_path):
    """`--zero_stage` once landed between `--num_processes` and its value: every DeepSpeed run died before starting."""
    from accelerate.commands.launch import launch_command_parser

    from contrastlab.app.launch import launch_command

    cfg = compose([f"hardware={hardware}", "hardware.num_processes=2", "hardware.device=cpu"])
    command = launch_command(resolve_hardware(cfg.hardware), tmp_path, "run-1", "sweep")
    assert command[1:3] == ["-m", "contrastlab.app.launch"]
    args = launch_command_parser().parse_args(command[3:])
    assert getattr(args, engine) is True and args.num_processes == 2 and args.num_machines == 1
    assert args.module is True and args.training_script == "contrastlab.app.worker"
    assert args.training_script_args == [str(tmp_path), "--name", "run-1", "--group", "sweep"]
    if engine == "use_deepspeed":
        assert args.zero_stage == cfg.hardware.deepspeed.zero_stage


def test_one_process_never_wraps_its_model_in_data_parallel(monkeypatch, tmp_path):
    """transformers sets n_gpu to the visible GPU count in a process that is not one of several; here two GPUs are
    made to seem visible (the device itself stays the CPU)."""
    import transformers

    from contrastlab.objectives.trainers.devices import ready

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    args = transformers.TrainingArguments(output_dir=str(tmp_path), report_to="none")
    assert args.n_gpu == 2  # what transformers would do with two GPUs
    model = torch.nn.Linear(2, 1)
    trainer = transformers.Trainer(model=model, args=args)
    assert isinstance(trainer._wrap_model(model), torch.nn.DataParallel)
    ready(trainer, resolve_hardware(compose([]).hardware))
    assert trainer.args.n_gpu == 1 and trainer._wrap_model(model) is model
    assert trainer.args.train_batch_size == args.per_device_train_batch_size


def _guard(norm, tmp_path):
    from contrastlab.objectives.trainers.resilience import Resilience

    engine = SimpleNamespace(get_global_grad_norm=lambda: norm)
    trainer = SimpleNamespace(is_deepspeed_enabled=True, model_wrapped=engine)
    args = SimpleNamespace(device=torch.device("cpu"), output_dir=str(tmp_path), learning_rate=1e-5)
    control = SimpleNamespace(should_save=False, should_training_stop=False)
    Resilience(trainer, on_nan="stop").on_step_end(args, SimpleNamespace(global_step=7), control)
    return control


def test_the_nan_guard_reads_deepspeeds_gradient_norm(tmp_path):
    """Under DeepSpeed the engine steps before `on_pre_optimizer_step` and ZeRO keeps gradients out of `p.grad`."""
    from contrastlab.objectives.trainers.resilience import NumericFault

    assert _guard(1.5, tmp_path).should_training_stop is False
    assert _guard(None, tmp_path).should_training_stop is False  # no step taken yet
    for bad in (math.nan, math.inf):
        with pytest.raises(NumericFault, match="NaN or infinite at step 7"):
            _guard(bad, tmp_path)


def test_skipping_a_nan_batch_is_refused_under_deepspeed():
    from contrastlab.config.validate import validate
    from contrastlab.errors import UserError

    with pytest.raises(UserError, match="train.on_nan=skip_batch .* DeepSpeed"):
        validate(compose(["hardware=deepspeed", "name=test", "hardware.num_processes=2", "train.on_nan=skip_batch"]))


def test_the_reward_recipe_inherits_the_runs_hardware(tmp_path):
    from contrastlab.app.dependencies import reward_recipe

    run = ["eval.generate=true", f"eval.reward_model={tmp_path / 'rm'}", "name=test"]
    cfg = compose(["hardware=gpu", *run, "eval.reward_recipe=['objective=reward','model=tiny']"])
    _, _, recipe = reward_recipe(cfg)
    assert recipe.hardware.device == "cuda" and recipe.hardware.precision == "bf16"
    own = compose(["hardware=gpu", *run, "eval.reward_recipe=['objective=reward','model=tiny','hardware=cpu']"])
    assert reward_recipe(own)[2].hardware.device == "cpu"  # a recipe that names its hardware keeps it


def test_throughput_leaves_out_the_warm_up_step_and_evaluations(monkeypatch):
    from contrastlab.objectives.trainers import throughput
    from contrastlab.objectives.trainers.throughput import EvalClock, Throughput

    now = [0.0]
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: now[0])
    args = SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=1, world_size=1,
                           include_num_input_tokens_seen="non_padding")  # fmt: skip
    state = SimpleNamespace(global_step=0, max_steps=4, num_input_tokens_seen=0)
    trainer, clock = SimpleNamespace(args=args, state=state), EvalClock()
    meter = Throughput(trainer, clock)
    meter.on_train_begin(args, state, None)
    for step, seconds in enumerate([30.0, 1.0, 1.0, 1.0], start=1):  # the first step compiles
        now[0] += seconds
        state.global_step, state.num_input_tokens_seen = step, 100 * step
        if step == 3:  # an evaluation during training
            now[0] += 5.0
            clock.seconds += 5.0
        meter.on_step_end(args, state, None)
    meter.on_train_end(args, state, None)
    m = meter.metrics()
    assert m["train/timed_steps"] == 3 and m["train/timed_s"] == pytest.approx(3.0)
    assert m["train/tokens_per_s"] == pytest.approx(100.0) and m["train/samples_per_s"] == pytest.approx(4.0)
    assert m["train/tokens"] == 400.0
