"""Adapters: convert records to the type an objective consumes, where the conversion is sound.

- identity: records already of the target type;
- PreferencePair -> Unpaired: each pair gives (prompt, chosen, True) and (prompt, rejected, False);
- PreferencePair -> Ranked: a two-item list [chosen, rejected] with scores [score_chosen, score_rejected]
  when the pair has both, else [1.0, 0.0];
- Ranked -> PreferencePair: every (i, j) with score_i > score_j (ties give no pair);
- MultiAttribute -> PreferencePair: the pair as is, its per-attribute scores dropped;
- Sentence -> SentencePair: a sentence gives a SimCSE positive with itself (anchor = positive = text, no
  negative): the two dropout views of one text are the positive pair (Gao et al. 2021, unsupervised SimCSE).

Forget records convert to nothing (a completion to unlearn is not a preference). Anything else stops the run
with a UserError that names the record type the objective needs.
"""

from __future__ import annotations

from typing import Callable

from contrastlab.data.records import MultiAttribute, PreferencePair, Ranked, Sentence, SentencePair, Unpaired
from contrastlab.errors import UserError


def pairs_to_unpaired(records: list) -> list:
    """Each pair -> a desirable and an undesirable Unpaired example, in that order, group kept."""
    out = []
    for pair in records:
        out.append(Unpaired(prompt=pair.prompt, completion=pair.chosen, label=True, group=pair.group))
        out.append(Unpaired(prompt=pair.prompt, completion=pair.rejected, label=False, group=pair.group))
    return out


def pairs_to_ranked(records: list) -> list:
    """Each pair -> Ranked([chosen, rejected]) scored by the pair's scores when it has both, else [1.0, 0.0]."""
    out = []
    for pair in records:
        scored = pair.score_chosen is not None and pair.score_rejected is not None
        scores = [float(pair.score_chosen), float(pair.score_rejected)] if scored else [1.0, 0.0]
        out.append(Ranked(prompt=pair.prompt, completions=[pair.chosen, pair.rejected], scores=scores,
                          group=pair.group))
    return out


def ranked_to_pairs(records: list) -> list:
    """Each ranked list -> a PreferencePair for every (i, j) with score_i > score_j, scores kept."""
    out = []
    for index, ranked in enumerate(records):
        if len(ranked.completions) != len(ranked.scores):
            raise UserError(f"ranked record {index} has {len(ranked.completions)} completions but {len(ranked.scores)} "
                            "scores; give one score per completion")
        for i, (better, high) in enumerate(zip(ranked.completions, ranked.scores)):
            for j, (worse, low) in enumerate(zip(ranked.completions, ranked.scores)):
                if i != j and high > low:
                    out.append(PreferencePair(prompt=ranked.prompt, chosen=better, rejected=worse,
                                              score_chosen=float(high), score_rejected=float(low), group=ranked.group))
    return out


def multi_to_pairs(records: list) -> list:
    """Each multi-attribute pair -> the PreferencePair it is (no scalar scores), group kept."""
    return [PreferencePair(prompt=r.prompt, chosen=r.chosen, rejected=r.rejected, group=r.group) for r in records]


def sentences_to_pairs(records: list) -> list:
    """Each sentence -> SentencePair(anchor=text, positive=text), group kept: two dropout views of one text."""
    return [SentencePair(anchor=s.text, positive=s.text, negative=None, group=s.group) for s in records]


CONVERSIONS: dict[tuple[str, str], Callable[[list], list]] = {
    (PreferencePair.__name__, Unpaired.__name__): pairs_to_unpaired,
    (PreferencePair.__name__, Ranked.__name__): pairs_to_ranked,
    (Ranked.__name__, PreferencePair.__name__): ranked_to_pairs,
    (MultiAttribute.__name__, PreferencePair.__name__): multi_to_pairs,
    (Sentence.__name__, SentencePair.__name__): sentences_to_pairs,
}


def can_adapt(source: str, target: str) -> bool:
    """Whether records of type `source` can feed an objective that needs `target` records."""
    return source == target or (source, target) in CONVERSIONS


def adapt(records: list, target: str, data_name: str = "") -> list:
    """Records converted to the type named `target`; identity when they already are."""
    if not records:
        return []
    source = type(records[0]).__name__
    if source == target:
        return list(records)
    if (source, target) in CONVERSIONS:
        return CONVERSIONS[(source, target)](records)
    reachable = sorted({source} | {to for (frm, to) in CONVERSIONS if frm == source})
    givers = sorted({frm for (frm, to) in CONVERSIONS if to == target} | {target})
    raise UserError(
        f"objective needs {target} records but data={data_name or '?'} gives {source}; choose data that gives "
        f"{' or '.join(givers)} records, or an objective that takes {' or '.join(reachable)}"
    )
