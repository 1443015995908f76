"""lee: the 300 Lee background news documents, one Sentence each (real, offline; the gensim package)."""

from __future__ import annotations

from contrastlab.data.gensim_data import LEE_BACKGROUND, data_file, load_lee_background
from contrastlab.data.records.sentence import Sentence
from contrastlab.data.source import PackagedSource

SOURCE = PackagedSource(
    name="lee",
    record=Sentence,
    summary="the 300 Lee background news documents (gensim package)",
    what="the fixed Lee background corpus split by data.eval_fraction",
    read=lambda cfg: load_lee_background(),
    files=lambda: data_file(LEE_BACKGROUND),
)
