"""Similarity benchmarks: pairs of texts with a human similarity score, scaled to [0, 1] (`data.benchmark`).

| data.benchmark | pairs | where from |
|---|---|---|
| lee | 1,225 | the 50 `lee.cor` documents, every pair i < j, scored by `similarities0-1.txt` (gensim, offline) |
| wordsim353 | 353 | `wordsim353.tsv`, word pairs scored 0-10, divided by 10 (gensim, offline) |
| simlex999 | 999 | `simlex999.txt`, word pairs scored 0-10, divided by 10 (gensim, offline) |
| stsb | 1,379 (test) | `sentence-transformers/stsb` split `data.benchmark_split`, or a local file in its schema |
| null | 0 | no benchmark: embedding objectives report alignment/uniformity on the held-out records |

The Lee matrix in gensim is upper-triangular (the diagonal is 1, below it 0), so the pairs are its
upper triangle, read exactly as gensim's `test/test_lee.py` reads it
(`sim_matrix[np.triu_indices(50, 1)]`); were it full, averaging (i, j) with (j, i) would halve every
score against the zeros. A benchmark is evaluated whole: `data.max_eval` limits the held-out records
only. Every benchmark row must be readable (a bad one stops the run), so that scores stay comparable.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

from contrastlab.data.gensim_data import data_file, read_lines
from contrastlab.data.hub_text import TEXT_SCHEMAS, check_local, looks_local, text_rows
from contrastlab.data.records import ScoredPair
from contrastlab.data.sentences import parse_records, text_columns
from contrastlab.errors import UserError

log = logging.getLogger(__name__)

BENCHMARKS = ("lee", "wordsim353", "simlex999", "stsb")
WORD_FILES = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
LEE_DOCUMENTS, LEE_MATRIX = "lee.cor", "similarities0-1.txt"
STSB = TEXT_SCHEMAS["stsb"]


def _option(cfg: Any, name: str, default: Any = None) -> Any:
    """cfg.<name>, with a missing mandatory value (`???`) read as unset."""
    from omegaconf.errors import MissingMandatoryValue

    try:
        return getattr(cfg, name, default)
    except MissingMandatoryValue:
        return None


def check_benchmark(cfg: Any) -> None:
    """Cheap checks of data.benchmark, data.benchmark_path and data.positive_threshold; nothing loads."""
    threshold = _option(cfg, "positive_threshold", 0.8)
    if threshold is None or not 0.0 <= threshold <= 1.0:
        raise UserError(f"data.positive_threshold={threshold} must lie in [0, 1] (a similarity score scaled to [0, 1] "
                        "from which a scored pair counts as a positive)")
    name = _option(cfg, "benchmark")
    if name is None:
        return
    if name not in BENCHMARKS:
        raise UserError(f"data.benchmark={name} is not a known benchmark; choose one of {', '.join(BENCHMARKS)}, "
                        "or null for none")
    if name in ("lee", *WORD_FILES):
        for file in (LEE_DOCUMENTS, LEE_MATRIX) if name == "lee" else (WORD_FILES[name],):
            data_file(file)  # raises if gensim or the file is missing
    else:
        _check_stsb(_option(cfg, "benchmark_path") or STSB.hub_id, _option(cfg, "benchmark_split", "test"))


def _check_stsb(path: str, split: str) -> None:
    if looks_local(path) or os.path.exists(os.path.expanduser(path)):
        check_local(path, "stsb", option="data.benchmark_path")
    elif path == STSB.hub_id and split not in STSB.splits:
        raise UserError(f"data.benchmark_split={split}: {STSB.hub_id} has no such split; choose one of "
                        f"{', '.join(STSB.splits)}")


def load_benchmark(cfg: Any) -> list[ScoredPair]:
    """The pairs of `data.benchmark`, scores in [0, 1], in a fixed order; [] when it is null."""
    check_benchmark(cfg)
    name = _option(cfg, "benchmark")
    if name is None:
        return []
    if name != "stsb" and _option(cfg, "benchmark_path"):
        log.warning("data.benchmark_path=%s is ignored: data.benchmark=%s comes with gensim",
                    _option(cfg, "benchmark_path"), name)
    if name == "lee":
        return lee_pairs()
    if name in WORD_FILES:
        return word_pairs(name)
    return stsb_pairs(_option(cfg, "benchmark_path") or STSB.hub_id, _option(cfg, "benchmark_split", "test"))


@functools.lru_cache(maxsize=1)
def _lee() -> tuple[ScoredPair, ...]:
    documents = [line.strip() for line in read_lines(LEE_DOCUMENTS)]
    matrix = [[float(cell) for cell in line.split()] for line in read_lines(LEE_MATRIX) if line.strip()]
    size = len(documents)
    if size != 50 or len(matrix) != size or any(len(row) != size for row in matrix) or not all(documents):
        raise UserError(f"{data_file(LEE_MATRIX)}: expected 50 documents and a 50 x 50 matrix; reinstall gensim")
    return tuple(ScoredPair(text1=documents[i], text2=documents[j], score=matrix[i][j], group=f"lee:{i}-{j}")
                 for i in range(size) for j in range(i + 1, size))


def lee_pairs() -> list[ScoredPair]:
    """The 1,225 Lee document pairs (i < j, row-major), scored by the mean human similarity in [0, 1]."""
    return list(_lee())


@functools.lru_cache(maxsize=2)
def _words(name: str) -> tuple[ScoredPair, ...]:
    pairs = []
    for number, line in enumerate(read_lines(WORD_FILES[name]), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 3:
            raise UserError(f"{data_file(WORD_FILES[name])} line {number}: expected word1, word2 and a score "
                            "separated by tabs; reinstall gensim")
        score = round(float(cells[2]) / 10, 6)  # 7.35 -> 0.735, not 0.7349999999999999
        pairs.append(ScoredPair(text1=cells[0].strip(), text2=cells[1].strip(), score=score, group=f"{name}:{number}"))
    return tuple(pairs)


def word_pairs(name: str) -> list[ScoredPair]:
    """The word pairs of wordsim353 or simlex999, in file order, scores divided by 10."""
    return list(_words(name))


def stsb_pairs(path: str, split: str = "test") -> list[ScoredPair]:
    """Every pair of one STS-B split (or of a local file in its schema: sentence1, sentence2, score in [0, 1])."""
    rows, origin = text_rows("stsb", path, split, option="data.benchmark_split", path_option="data.benchmark_path",
                             strict=True)  # a benchmark is read whole: a bad row stops the run
    return parse_records(rows, ScoredPair.__name__, text_columns(None, STSB.columns), origin)
