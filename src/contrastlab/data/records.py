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


RECORD_TYPES = {cls.__name__: cls for cls in (PreferencePair, Unpaired, Ranked)}
