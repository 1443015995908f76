"""BCO: binary classifier optimisation on unpaired examples, with the running reward shift delta.

The implicit reward r = beta * (log pi(y|x) - log ref(y|x)) is the logit of a binary classifier that tells
desirable completions (label 1) from undesirable ones (label 0), shifted by delta, the running mean of every reward
seen in training so far (this batch's included):
    desirable: -log sigma(r - delta)        undesirable: -log sigma(-(r - delta))
The loss is the mean over the batch. delta is state carried across steps: it is updated before each loss (every
process's rewards count), reported as `delta`, and saved with every checkpoint so that a resumed run continues it.
TRL 1.16 has no BCOTrainer (its DPO `bco_pair` loss omits delta); the underlying-distribution-matching weights of
the paper are not implemented. Preference pairs adapt by themselves (chosen -> desirable, rejected -> undesirable).
Jung et al. 2024, "Binary Classifier Optimization for Large Language Model Alignment", arXiv:2404.04656
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.unpaired import Unpaired
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class BCOConfig(ReferenceObjectiveConfig):
    """BCO (the paper uses beta 0.1 to 0.5 for its 7B models)."""


def bco(rewards, desirable, delta: float):
    """Per-example BCO loss: -log sigma(r - delta) for desirable examples, -log sigma(-(r - delta)) for the others.

    Shapes: rewards (B,) implicit rewards beta * log-ratio, desirable (B,) bool -> (B,). Pure: delta is given.
    """
    import torch
    import torch.nn.functional as F

    shifted = rewards - delta  # (B,)
    return -F.logsigmoid(torch.where(desirable, shifted, -shifted))


class RunningMean:
    """The mean of every value it was given: count-weighted over updates (as TRL's RunningMoments), the same on
    every process (their values are summed first). `state_dict` / `load_state_dict` go with a checkpoint."""

    def __init__(self):
        self.mean, self.count = 0.0, 0

    def update(self, values) -> float:
        """Add `values` (a tensor, every process's alike); the new mean."""
        import torch

        total = torch.stack([values.detach().double().sum(), torch.tensor(float(values.numel()), dtype=torch.float64,
                                                                        device=values.device)])  # fmt: skip
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(total)
        added_sum, added = float(total[0]), int(total[1])
        if added:
            self.mean = (self.mean * self.count + added_sum) / (self.count + added)
            self.count += added
        return self.mean

    def state_dict(self) -> dict:
        return {"mean": self.mean, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.count = float(state["mean"]), int(state["count"])


def _loss(cfg, records):
    from contrastlab.objectives.trainers.preference import SequenceLoss

    beta, running = float(cfg.beta), RunningMean()

    def fn(batch):
        rewards = beta * batch.logratios[:, 0]  # (B,)
        desirable = batch.extras["label"][:, 0] > 0.5  # (B,)
        delta = running.update(rewards)
        loss = bco(rewards, desirable, delta).mean()
        r = rewards.detach()
        metrics = {"delta": delta, "rewards/desirable": r[desirable].mean().item() if desirable.any() else 0.0,
                   "rewards/undesirable": r[~desirable].mean().item() if (~desirable).any() else 0.0,
                   "classifier/accuracy": ((r > delta) == desirable).float().mean().item()}  # fmt: skip
        return loss, metrics

    return SequenceLoss(fn, state=running)


SPEC = SequenceObjective(
    name="bco",
    schema=BCOConfig,
    record=Unpaired,
    family="policy",
    summary="Binary classifier optimisation: desirable vs undesirable completions, shifted by the running mean reward",
    paper="Jung et al. 2024, arXiv:2404.04656",
    loss=_loss,
    needs=with_reference,
)
