"""What an on-policy trainer wrote and how it was scored, kept at every logging step: TRL's GRPO and RLOO trainers
hold the last generation batch's prompts, completions, per-source rewards and advantages (`trainer._logs`); this
callback appends them to `train_samples.jsonl` in the run folder (one line per completion, with its step; a resume
drops the lines of the steps after its checkpoint) and logs them as the W&B table `train/samples`."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from contrastlab.data.encoding import plain

FILE = "train_samples.jsonl"


class TrainingSamples(TrainerCallback):
    def __init__(self, trainer, run_dir: Path, runlog=None, limit: int = 64):
        self.trainer, self.path, self.runlog, self.limit = trainer, Path(run_dir) / FILE, runlog, limit

    def rows(self, step: int) -> list[dict]:
        logs = getattr(self.trainer, "_logs", None) or {}
        prompts, completions = list(logs.get("prompt", ())), list(logs.get("completion", ()))
        rewards = {name: list(values) for name, values in (logs.get("rewards") or {}).items()}
        advantages = list(logs.get("advantages", ()))
        n = min(len(prompts), len(completions), self.limit)
        out = []
        for i in range(len(prompts) - n, len(prompts)):
            row = {"step": step, "prompt": plain(prompts[i]), "completion": plain(completions[i])}
            for name, values in rewards.items():
                if i < len(values):
                    row[f"reward/{name}"] = values[i]
            if i < len(advantages):
                row["advantage"] = advantages[i]
            out.append(row)
        return out

    def on_train_begin(self, args, state, control, **kwargs):
        """A resumed run drops the rows of the steps after its checkpoint (the killed attempt's)."""
        if state.is_world_process_zero and self.path.is_file():
            rows = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= state.global_step]  # fmt: skip
            self.path.write_text("".join(row + "\n" for row in rows))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or logs is None or "train_loss" in logs:
            return
        rows = self.rows(state.global_step)
        if not rows:
            return
        with open(self.path, "a") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in rows)
        if self.runlog is not None:
            self.runlog.table("train/samples", rows)
