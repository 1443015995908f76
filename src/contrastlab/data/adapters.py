"""Adapters: convert records to the type an objective consumes, where the conversion is sound.

- identity: records already of the target type;
- PreferencePair -> Unpaired: each pair gives (prompt, chosen, True) and (prompt, rejected, False);
- Ranked -> PreferencePair: every (i, j) with score_i > score_j (ties give no pair);
- Sentence -> SentencePair: a sentence gives a SimCSE positive with itself (anchor = positive = text, no
  negative): the two dropout views of one text are the positive pair (Gao et al. 2021, unsupervised SimCSE).

Anything else stops the run with a UserError that names the record type the objective needs.
"""

from __future__ import annotations

from typing import Callable

from contrastlab.data.records import PreferencePair, Ranked, Sentence, SentencePair, Unpaired
from contrastlab.errors import UserError


def pairs_to_unpaired(records: list) -> list:
    """Each pair -> a desirable and an undesirable Unpaired example, in that order, group kept."""
    out = []
    for pair in records:
        out.append(Unpaired(prompt=pair.prompt, completion=pair.chosen, label=True, group=pair.group))
        out.append(Unpaired(prompt=pair.prompt, completion=pair.rejected, label=False, group=pair.group))
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


def sentences_to_pairs(records: list) -> list:
    """Each sentence -> SentencePair(anchor=text, positive=text), group kept: two dropout views of one text."""
    return [SentencePair(anchor=s.text, positive=s.text, negative=None, group=s.group) for s in records]


CONVERSIONS: dict[tuple[str, str], Callable[[list], list]] = {
    (PreferencePair.__name__, Unpaired.__name__): pairs_to_unpaired,
    (Ranked.__name__, PreferencePair.__name__): ranked_to_pairs,
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
