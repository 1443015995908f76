"""MODPO: multi-objective DPO. One DPO term for a target objective; the other objectives' reward margins,
weighted, shift it, so that a sweep over the weight vector draws a Pareto front.

Loss: -log sigma((beta/w_k) * h - (1/w_k) * sum_{m != k} w_m * (r_m(y_w) - r_m(y_l))), h the DPO log-ratio margin,
k the target objective (whose preference orders the pair), r_m the records' per-attribute scores standing in
for the other objectives' reward models. All weight on the target (w_k = 1) is DPO on it.
Zhou et al. 2024, https://arxiv.org/abs/2310.03708
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

from contrastlab.objectives.base import ObjectiveSpec, ReferenceObjectiveConfig


@dataclass
class MODPOConfig(ReferenceObjectiveConfig):
    """MODPO. Sweep the front: python run.py -m objective=modpo 'objective.weights={sentiment:1,brevity:0},...'"""

    weights: Dict[str, float] = field(default_factory=lambda: {"sentiment": 0.5, "brevity": 0.5})  # per attribute
    target: Optional[str] = None  # attribute whose preference orders each pair (the DPO term); null = first in weights


def _target(cfg) -> str:
    return cfg.target if cfg.target is not None else next(iter(cfg.weights), "")


def _check(cfg) -> Optional[str]:
    if not cfg.weights:
        return "objective.weights is empty: give one weight per attribute of the data, e.g. {sentiment:0.5,brevity:0.5}"
    if any(w < 0 for w in cfg.weights.values()):
        return f"objective.weights={dict(cfg.weights)} must all be at least 0"
    target = _target(cfg)
    if target not in cfg.weights:
        return f"objective.target={target} is not one of the weighted attributes {', '.join(cfg.weights)}"
    if cfg.weights[target] <= 0:
        return f"objective.weights.{target} must be positive: the target's weight divides the loss"
    return None


def _check_records(cfg, records) -> Optional[str]:
    names = list(records[0].scores_chosen) if records else []
    if set(cfg.weights) != set(names):
        return (f"objective.weights names {', '.join(cfg.weights)} but the data's attributes are {', '.join(names)}; "
                "give one weight per attribute, e.g. objective.weights={" + ",".join(f"{n}:1" for n in names) + "}")
    return None


def _loss(cfg, records):
    import torch

    from contrastlab.objectives.losses.modpo import modpo
    from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics

    names = list(records[0].scores_chosen)
    weights = torch.tensor([float(cfg.weights[n]) for n in names])
    target, beta = names.index(_target(cfg)), float(cfg.beta)

    def fn(batch):
        ratios = batch.logratios  # (B, 2)
        margins = batch.attributes[:, 0] - batch.attributes[:, 1]  # (B, M)
        loss, valid = modpo(ratios[:, 0], ratios[:, 1], margins, weights.to(margins), target, beta)
        metrics = {**pair_metrics(batch, beta), "pairs/valid": valid.float().mean().item()}
        return (loss * valid).sum() / valid.sum().clamp(min=1), metrics

    return SequenceLoss(fn)


SPEC = ObjectiveSpec(
    name="modpo",
    schema=MODPOConfig,
    record="MultiAttribute",
    family="policy",
    summary="Multi-objective DPO: a weight vector over attributes; the others' score margins shift the DPO term",
    paper="Zhou et al. 2024, arXiv:2310.03708",
    sequence_loss=_loss,
    uses_reference=True,
    check=_check,
    check_records=_check_records,
)
