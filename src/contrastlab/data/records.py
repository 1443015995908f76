"""Record types: plain dataclasses, one per kind of contrast an objective consumes.

An objective names the record type it needs (`ObjectiveSpec.record`); `data.adapters` converts
between types where the conversion is sound.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PreferencePair:
    """A prompt with a preferred (`chosen`) and a dispreferred (`rejected`) completion."""

    prompt: str
    chosen: str
    rejected: str
    score_chosen: float | None = None  # optional scalar rating of `chosen`
    score_rejected: float | None = None  # optional scalar rating of `rejected`
    group: str = ""  # what the train/eval split keeps together (a film, a conversation); "" = the record itself


@dataclass
class Unpaired:
    """A prompt with one completion labelled desirable (`True`) or undesirable (`False`), as KTO consumes."""

    prompt: str
    completion: str
    label: bool
    group: str = ""


@dataclass
class Ranked:
    """A prompt with several completions and one score each (higher is better)."""

    prompt: str
    completions: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    group: str = ""


@dataclass
class MultiAttribute:
    """A preference pair with one score per attribute for each side (same keys, higher is better), as MODPO consumes."""

    prompt: str
    chosen: str
    rejected: str
    scores_chosen: dict[str, float] = field(default_factory=dict)  # attribute -> score of `chosen`
    scores_rejected: dict[str, float] = field(default_factory=dict)  # the same attributes -> scores of `rejected`
    group: str = ""


@dataclass
class Forget:
    """A prompt and a completion to unlearn (`split="forget"`) or to keep (`split="retain"`), as NPO consumes."""

    prompt: str
    completion: str
    split: str  # "forget" or "retain" (FORGET_SPLITS)
    group: str = ""


FORGET_SPLITS = ("forget", "retain")


@dataclass
class Sentence:
    """One text; unsupervised contrastive objectives pair it with itself (two dropout views, SimCSE)."""

    text: str
    group: str = ""


@dataclass
class SentencePair:
    """An anchor with a positive (a paraphrase, an entailment, a second view) and an optional hard negative."""

    anchor: str
    positive: str
    negative: str | None = None  # a hard negative (an NLI contradiction, say); None = in-batch negatives only
    group: str = ""


@dataclass
class ScoredPair:
    """Two texts and a human similarity score scaled to [0, 1]: one item of a similarity benchmark."""

    text1: str
    text2: str
    score: float  # gold similarity, scaled to [0, 1] (1 = most similar)
    group: str = ""


RECORD_TYPES = {cls.__name__: cls for cls in (PreferencePair, Unpaired, Ranked, MultiAttribute, Forget, Sentence,
                                              SentencePair, ScoredPair)}
