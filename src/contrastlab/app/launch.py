"""Several processes for one run: `run.py hardware=ddp|fsdp|deepspeed` starts them itself, through accelerate.

The job that Hydra runs (one run, or one job of a `-m` sweep) plans the run (`app.plan`: the config validated, the
hardware resolved: `auto` device and precision, one process per visible GPU), then `launch(plan)` starts
`plan.hardware.num_processes` processes with `accelerate launch` (torchrun underneath) on this machine, each running
`python -m contrastlab.app.worker RUN_DIR`.
The workers read the run's config from `RUN_DIR/.hydra/config.yaml`, so all ranks agree on one run folder, and
only rank 0 writes to it. The engine's own options (FSDP, DeepSpeed) reach the workers through transformers'
`TrainingArguments` (`engine_args`); accelerate only starts and wires up the processes.

A mistake of the user's found by a worker (a bad record, say) is recorded in `error.json` and the worker exits
cleanly, so that torchrun does not bury the message under its own report: this job then raises it again, and
`run.py` exits with code 2 and the one line, as in one process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from contrastlab.errors import UserError


SHUTDOWN_TIMEOUT_S = 300


def check_launch(hw) -> None:
    """What only this machine can say, before any process starts: enough GPUs, DeepSpeed installed."""
    import importlib.util

    if hw.device == "cuda":
        import torch

        visible = torch.cuda.device_count()
        if visible == 0:
            raise UserError(f"hardware={hw.name} runs on CUDA GPUs but none is visible: use hardware=ddp "
                            "hardware.device=cpu for CPU processes, or hardware=cpu")
        if hw.num_processes > visible:
            raise UserError(f"hardware.num_processes={hw.num_processes} but {visible} GPU(s) are visible: one process "
                            f"per GPU, so give at most hardware.num_processes={visible}")
    if hw.strategy == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise UserError(f"hardware={hw.name} needs DeepSpeed, which is an optional extra: pip install "
                        "'contrastlab[deepspeed]' (pip install -e '.[deepspeed]' in a checkout), or use hardware=fsdp")


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def free_port() -> int:
    """A TCP port free on this machine now (parallel jobs of a sweep each get their own rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(hw, run_dir: Path, run_name: str, sweep_group: str | None) -> list[str]:
    """The `accelerate launch` command line that starts the workers of the run in `run_dir`."""
    engine = {"fsdp": ["--use_fsdp"], "deepspeed": ["--use_deepspeed", "--zero_stage", str(hw.deepspeed.zero_stage)]}
    command = [sys.executable, "-m", "contrastlab.app.launch",  # accelerate launch; see agent()
               *engine.get(hw.strategy, ["--multi_gpu"]),  # DeepSpeed's stage: replaced by TrainingArguments' config
               "--num_processes", str(hw.num_processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no",  # precision: TrainingArguments' bf16/fp16
               "--main_process_port", str(hw.main_process_port or free_port()),
               "--module", "contrastlab.app.worker", str(run_dir), "--name", run_name]  # fmt: skip
    return command + (["--group", sweep_group] if sweep_group else [])


def launch(plan) -> dict:
    """Run the plan's job in `plan.hardware.num_processes` processes and return its metrics (metrics.json)."""
    from omegaconf import OmegaConf

    hw, run_dir = plan.hardware, plan.run_dir
    check_launch(hw)
    config_file = run_dir / ".hydra" / "config.yaml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(plan.cfg, config_file, resolve=True)  # what every worker plans again (the same hardware)
    error_file, metrics_file = run_dir / "error.json", run_dir / "metrics.json"
    stale = {f: f.stat().st_mtime_ns for f in (error_file, metrics_file) if f.exists()}
    env = {**os.environ, "CONTRASTLAB_WORKER": "1", "PYTHONUNBUFFERED": "1"}
    # After a SIGTERM torchrun gives the processes this long to save their checkpoint before it kills them (its
    # own default, 30 s, is short for the weights and optimizer states of a large model).
    env.setdefault("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", str(SHUTDOWN_TIMEOUT_S))
    if hw.device == "cpu":
        env["ACCELERATE_USE_CPU"] = "true"
        env.setdefault("OMP_NUM_THREADS", str(hw.threads or max(1, cpu_cores() // hw.num_processes)))
    print(f"Starting {hw.num_processes} process(es) ({hw.strategy}, {hw.device}) through accelerate", flush=True)
    command = launch_command(hw, run_dir, plan.run_name, plan.sweep_group)
    code, terminated = _run_forwarding_sigterm(command, env)
    if terminated:  # preempted: the processes saved a checkpoint and said so; the same command resumes
        raise SystemExit(143)
    error = _fresh_json(error_file, stale)
    if error is not None:
        if error.get("exit_code") == 2:
            raise UserError(error["error"])
        raise RuntimeError(f"the run's processes failed: {error.get('type')}: {error.get('error')}")
    if code != 0:
        raise RuntimeError(f"the run's processes exited with code {code} (their output is above)")
    metrics = _fresh_json(metrics_file, stale)
    if metrics is None:
        raise RuntimeError(f"the run's processes ended without writing {metrics_file}")
    return metrics


def _run_forwarding_sigterm(command: list[str], env: dict) -> tuple[int, bool]:
    """Run `command`, passing a SIGTERM this job receives (preemption) on to it; (exit code, whether it came)."""
    import signal

    proc = subprocess.Popen(command, env=env)
    received = []

    def forward(signum, frame):
        received.append(signum)
        proc.send_signal(signal.SIGTERM)

    try:
        previous = signal.signal(signal.SIGTERM, forward)
    except ValueError:  # not the main thread (a launcher plugin's worker thread): no forwarding
        previous = None
    try:
        code = proc.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return code, bool(received)


def _fresh_json(path: Path, stale: dict) -> dict | None:
    """The JSON object at `path` if it was written by this launch (not left from an earlier attempt)."""
    if not path.exists() or stale.get(path) == path.stat().st_mtime_ns:
        return None
    return json.loads(path.read_text())


def agent() -> int:
    """`accelerate launch` (torchrun's agent), but a SIGTERM ends it with code 143 and no traceback.

    On SIGTERM torchrun passes the signal on to the processes, waits for them (they save a checkpoint and say so),
    then raises `SignalException` out of `accelerate launch`, whose traceback would bury their message.
    """
    from accelerate.commands.launch import launch_command, launch_command_parser
    from torch.distributed.elastic.multiprocessing.api import SignalException

    args = launch_command_parser().parse_args()
    try:
        launch_command(args)
    except SignalException as e:
        return 128 + int(e.sigval)
    return 0


if __name__ == "__main__":
    sys.exit(agent())
