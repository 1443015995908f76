"""stsb: STS-B sentence pairs (hub, `sentence-transformers/stsb`), or a local copy in its schema.

`sentence1`, `sentence2`, `score` (already scaled to [0, 1]); splits `train`, `validation`, `test`. As training data
only the pairs with `score >= data.positive_threshold` are kept, as SentencePair(anchor=sentence1,
positive=sentence2) with no negative (the batch gives the negatives). The same schema is the `stsb` benchmark
(`data.benchmarks`), which keeps every pair and its score.
"""

from __future__ import annotations

from contrastlab.data.benchmarks import STSB_COLUMNS
from contrastlab.data.records.scored_pair import ScoredPair
from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.data.hub import HubSource
from contrastlab.errors import UserError

COLUMNS = STSB_COLUMNS


def positives(pairs: list[ScoredPair], threshold: float, origin: str) -> list[SentencePair]:
    """The scored pairs at or above `threshold`, as SentencePair(anchor=text1, positive=text2), group kept."""
    kept = [SentencePair(anchor=p.text1, positive=p.text2, group=p.group) for p in pairs if p.score >= threshold]
    if not kept:
        top = max(p.score for p in pairs)
        raise UserError(f"{origin}: no pair scores at least data.positive_threshold={threshold} (the highest is "
                        f"{top:g}); lower data.positive_threshold")
    return kept


def _parse(rows, cols, origin, cfg) -> list[SentencePair]:
    return positives(ScoredPair.parse(rows, cols, origin), cfg.positive_threshold, origin.name)


SOURCE = HubSource(
    name="stsb",
    record=SentencePair,
    summary="sentence-transformers/stsb pairs scoring at least data.positive_threshold, or a local copy",
    hub_id="sentence-transformers/stsb",
    splits=("train", "validation", "test"),
    columns=COLUMNS,
    parse=_parse,
)
