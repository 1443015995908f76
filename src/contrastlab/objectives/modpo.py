"""MODPO: multi-objective DPO. One DPO term for a target objective; the other objectives' reward margins,
weighted, shift it, so that a sweep over the weight vector draws a Pareto front.

Loss: -log sigma((beta/w_k) * h - (1/w_k) * sum_{m != k} w_m * (r_m(y_w) - r_m(y_l))), h the DPO log-ratio margin,
k the target objective (whose preference orders the pair), r_m the records' per-attribute scores standing in
for the other objectives' reward models. All weight on the target (w_k = 1) is DPO on it.
Zhou et al. 2024, https://arxiv.org/abs/2310.03708
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from contrastlab.data.records.multi_attribute import MultiAttribute
from contrastlab.objectives.base import ReferenceObjectiveConfig, with_reference
from contrastlab.objectives.kinds import SequenceObjective


@dataclass
class MODPOConfig(ReferenceObjectiveConfig):
    """MODPO. Sweep the front: python run.py -m experiment=modpo_front (weights [1,0], [0.75,0.25], ...)."""

    weights: Optional[List[float]] = None  # one weight per attribute, in the data's order; null = equal weights
    target: Optional[str] = None  # attribute whose preference orders each pair (the DPO term); null = the first


def _check(cfg) -> Optional[str]:
    if cfg.weights is not None and (not cfg.weights or any(w < 0 for w in cfg.weights)):
        return f"objective.weights={list(cfg.weights)} must be one weight of at least 0 per attribute of the data"
    return None


def _resolve(cfg, names: list[str]) -> tuple[list[float], int]:
    """(weights in attribute order, index of the target attribute), or a UserError-worthy ValueError."""
    weights = [1.0 / len(names)] * len(names) if cfg.weights is None else [float(w) for w in cfg.weights]
    example = "[" + ",".join(["0.5"] * len(names)) + "]"
    if len(weights) != len(names):
        raise ValueError(f"objective.weights has {len(weights)} weights but the data has {len(names)} attributes "
                         f"({', '.join(names)}, in that order); give one each, e.g. objective.weights={example}")
    target = cfg.target if cfg.target is not None else names[0]
    if target not in names:
        raise ValueError(f"objective.target={target} is not an attribute of the data; choose one of {', '.join(names)}")
    if weights[names.index(target)] <= 0:
        raise ValueError(f"the weight of the target attribute {target} must be positive: it divides the loss")
    return weights, names.index(target)


def _check_records(cfg, records) -> Optional[str]:
    try:
        _resolve(cfg, list(records[0].scores_chosen) if records else [])
    except ValueError as error:
        return str(error)
    return None


def _loss(cfg, records):
    import torch

    from contrastlab.objectives.losses.modpo import modpo
    from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics

    weights, target = _resolve(cfg, list(records[0].scores_chosen))
    weights, beta = torch.tensor(weights), float(cfg.beta)

    def fn(batch):
        ratios = batch.logratios  # (B, 2)
        margins = batch.extras["attributes"][:, 0] - batch.extras["attributes"][:, 1]  # (B, M)
        loss, valid = modpo(ratios[:, 0], ratios[:, 1], margins, weights.to(margins), target, beta)
        metrics = {**pair_metrics(batch, beta), "pairs/valid": valid.float().mean().item()}
        return (loss * valid).sum() / valid.sum().clamp(min=1), metrics

    return SequenceLoss(fn)


SPEC = SequenceObjective(
    name="modpo",
    schema=MODPOConfig,
    record=MultiAttribute,
    family="policy",
    summary="Multi-objective DPO: a weight vector over attributes; the others' score margins shift the DPO term",
    paper="Zhou et al. 2024, arXiv:2310.03708",
    loss=_loss,
    needs=with_reference,
    check=_check,
    check_records=_check_records,
)
