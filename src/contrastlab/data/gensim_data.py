"""Text and similarity data shipped with the installed `gensim` package: real, offline (source=lee).

`gensim/test/test_data/` holds the Lee corpus (Lee, Pincombe & Welsh 2005: "An empirical evaluation
of models of text document similarity"), read as gensim's own `test/test_lee.py` reads it (latin-1,
one document a line):

- `lee_background.cor`: 300 Australian news documents, the training text (`load_lee_background`);
- `lee.cor`: 50 further documents, and `similarities0-1.txt`, the 50 x 50 matrix of their mean human
  similarity in [0, 1] (the `lee` benchmark, in `data.benchmarks`);
- `wordsim353.tsv` and `simlex999.txt`: word pairs with a mean human score 0-10 (the `wordsim353` and
  `simlex999` benchmarks).

The package is located, never imported (importing gensim takes seconds).
"""

from __future__ import annotations

import functools
import importlib.util
import os

from contrastlab.data.records.sentence import Sentence
from contrastlab.errors import UserError

DATA_DIR = os.path.join("test", "test_data")
INSTALL = "install it with: pip install gensim==4.4.0"
LEE_BACKGROUND = "lee_background.cor"
LEE_ENCODING = "latin-1"  # lee.cor has a few latin-1 bytes (a pound sign); gensim's test_lee.py decodes so too


def data_dir() -> str:
    """The `test/test_data` folder inside the installed gensim package."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the Lee corpus and the word-similarity benchmarks come with the gensim package; {INSTALL}")
    return os.path.join(list(spec.submodule_search_locations)[0], DATA_DIR)


def data_file(name: str) -> str:
    """Path of one of gensim's test data files; a UserError if it is missing."""
    path = os.path.join(data_dir(), name)
    if not os.path.isfile(path):
        raise UserError(f"{path} is missing from the installed gensim package; reinstall it ({INSTALL})")
    return path


def read_lines(name: str) -> list[str]:
    """The lines of one of gensim's text files, without line ends (empty lines kept, so indices are line numbers)."""
    with open(data_file(name), encoding=LEE_ENCODING) as handle:
        return [line.rstrip("\r\n") for line in handle]


@functools.lru_cache(maxsize=1)
def _background() -> tuple[Sentence, ...]:
    lines = read_lines(LEE_BACKGROUND)
    return tuple(Sentence(text=line.strip(), group=f"lee_background:{index}")
                 for index, line in enumerate(lines) if line.strip())


def load_lee_background() -> list[Sentence]:
    """The 300 documents of the Lee background corpus, one Sentence each, in file order."""
    return list(_background())
