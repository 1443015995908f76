"""No secret of the environment reaches the run folder: a W&B API key and a Hugging Face token set for a run with
logger=wandb (offline) and checkpoints appear in no file under it (config, logs, checkpoints, weights, W&B files)
and not in the config logged to W&B."""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import run_cli
from test_logging import _records

WANDB_KEY = "7e57ab1e5ec2e7c0de0fa11ba5eda7a0ddba11a5"  # W&B's format: 40 hex digits
HF_TOKEN = "hf_FakeTokenForTestingOnly1234567890"
SECRETS = {"WANDB_API_KEY": WANDB_KEY.encode(), "its first 10 characters": WANDB_KEY[:10].encode(),
           "HF_TOKEN": HF_TOKEN.encode()}  # fmt: skip


def files_under(folder):
    """Every regular file under `folder`, recursively (symbolic links, such as wandb/latest-run, not followed)."""
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


@pytest.mark.slow
def test_no_key_or_token_in_any_file_of_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    run_dir = tmp_path / "run"
    out = run_cli(["model=tiny", "logger=wandb", "train.save_every=1", "train.max_steps=2", "data.max_train=16",
                   "data.max_eval=8", "eval.before=false", f"hydra.run.dir={run_dir}"],
                  env={"WANDB_API_KEY": WANDB_KEY, "HF_TOKEN": HF_TOKEN})  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert WANDB_KEY not in out.stdout + out.stderr and HF_TOKEN not in out.stdout + out.stderr

    run_file = next((run_dir / "wandb").glob("offline-run-*/*.wandb"))
    for _ in range(20):  # W&B's service may still be writing its files just after the run ended
        records = _records(run_file)
        if "exit" in [r.WhichOneof("record_type") for r in records]:
            break
        time.sleep(0.5)
    files = {os.path.relpath(p, run_dir): p for p in files_under(run_dir)}
    for part in (str(run_file.relative_to(run_dir)), ".hydra/config.yaml", ".hydra/hydra.yaml", "metrics.json",
                 "checkpoints/checkpoint-1/training_args.bin", "checkpoints/checkpoint-2/model.safetensors",
                 "model/model.safetensors", "model/tokenizer_config.json"):  # fmt: skip
        assert part in files  # what the scan below reads
    assert any("/logs/" in name for name in files if name.startswith("wandb/"))  # W&B's debug logs too
    assert b"contrastlab" in run_file.read_bytes()  # the .wandb file holds strings as they are (the project name)

    leaks = [f"{what} in {name}" for name, path in files.items() for what, secret in SECRETS.items()
             if secret in open(path, "rb").read()]  # fmt: skip
    assert leaks == []

    config = {item.key: json.loads(item.value_json) for r in records if r.WhichOneof("record_type") == "run"
              for item in r.run.config.update}  # fmt: skip
    assert config["logger"]["backend"] == "wandb" and config["train"]["save_every"] == 1  # the config, read
    logged = json.dumps(config)
    assert WANDB_KEY[:10] not in logged and HF_TOKEN not in logged
