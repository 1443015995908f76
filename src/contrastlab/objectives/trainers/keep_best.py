"""`train.keep_best=METRIC`: the weights of the best held-out evaluation (every `train.eval_every` steps and after the
last step) are the run's model: restored into the trained model before it is saved as model/ and measured further
(generation), and its metrics are the run's after/ ones; metrics.json records the step (`best/step`).

What is kept is the trainable parameters of each process (a LoRA adapter's, or every weight), copied to the CPU
when an evaluation beats the best so far; restoring copies them back. Under FSDP each process keeps its own shard.
"""

from __future__ import annotations

import math


class KeepBest:
    def __init__(self, metric: str, mode: str = "max"):
        self.metric, self.mode = metric, mode
        self.step: int | None = None
        self.value = math.nan
        self.metrics: dict[str, float] = {}
        self.examples = None
        self._state: dict | None = None

    def better(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.step is None:
            return True
        return value > self.value if self.mode == "max" else value < self.value

    def offer(self, step: int, metrics: dict[str, float], model, examples=None) -> bool:
        """Keep `model`'s trainable weights when `metrics[self.metric]` is the best so far; whether it was."""
        from contrastlab.errors import UserError

        if self.metric not in metrics:
            raise UserError(f"train.keep_best={self.metric} is not a held-out metric of this run (it measures: "
                            f"{', '.join(sorted(metrics))}): choose one of those")
        value = float(metrics[self.metric])
        if not self.better(value):
            return False
        self.step, self.value, self.metrics, self.examples = step, value, dict(metrics), examples
        self._state = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
        return True

    def restore(self, model) -> None:
        """Copy the kept weights back into `model` (the one offered)."""
        import torch

        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in self._state:
                    param.copy_(self._state[name].to(param.device))

    def summary(self) -> dict[str, float]:
        return {"best/step": float(self.step), f"best/{self.metric}": self.value}
