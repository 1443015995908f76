"""GradDiff: gradient difference unlearning, the NPO paper's baseline; `retain_weight=0` is plain gradient ascent.

Loss: -NLL(forget) + retain_weight * NLL(retain), each NLL a mean over the set's completion tokens in the batch: the
forget set's likelihood is pushed up the gradient (gradient ascent on its NLL) while the retain set's NLL is
descended. Unbounded below: it collapses the model if run long (the NPO paper's point), so keep it short or watch
the retain metrics.
The baseline of Zhang et al. 2024 (NPO), https://arxiv.org/abs/2404.05868; gradient difference is from Liu, Liu and
Stone 2022, "Continual Learning and Private Unlearning" (CoLLAs), as TOFU (Maini et al. 2024) runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from contrastlab.data.records.forget import Forget
from contrastlab.objectives.base import Needs, ObjectiveConfig
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class GradDiffConfig(ObjectiveConfig):
    """Gradient difference. `beta` is unused (kept so sweeps over objectives share the key)."""

    retain_weight: float = 1.0  # weight of the retain-set NLL; 0 = gradient ascent alone (no retain examples run)


def _check(cfg) -> Optional[str]:
    if cfg.retain_weight < 0:
        return f"objective.retain_weight={cfg.retain_weight} must be at least 0"
    return None


def _loss(cfg, records):
    from contrastlab.objectives.losses.unlearning import token_nll
    from contrastlab.objectives.trainers.preference import SequenceLoss, forget_and_retain

    weight = float(cfg.retain_weight)

    def fn(batch):
        forget = -token_nll(batch.token_logps[:, 0], batch.mask[:, 0])  # gradient ascent on the forget NLL
        return forget_and_retain(batch, forget, weight)

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="graddiff",
    schema=GradDiffConfig,
    record=Forget,
    family="unlearning",
    summary="Gradient difference: gradient ascent on the forget set plus the retain-set NLL",
    paper="Zhang et al. 2024, arXiv:2404.05868 (the NPO paper's baseline)",
    loss=_loss,
    needs=lambda cfg: Needs(retain=cfg.retain_weight > 0),
    check=_check,
    uses_beta=False,
)
