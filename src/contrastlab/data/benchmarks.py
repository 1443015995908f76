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
from dataclasses import dataclass
from typing import Any, Callable

from contrastlab.data.gensim_data import data_file, read_lines
from contrastlab.data.hub import HubSource, looks_local
from contrastlab.data.records.scored_pair import ScoredPair
from contrastlab.errors import UserError

log = logging.getLogger(__name__)

STSB_COLUMNS = {"text1": "sentence1", "text2": "sentence2", "score": "score", "group": "group"}
STSB = HubSource(name="stsb", record=ScoredPair, summary="STS-B: sentence pairs with a human similarity score",
                 hub_id="sentence-transformers/stsb", splits=("train", "validation", "test"), columns=STSB_COLUMNS)
LEE_DOCUMENTS, LEE_MATRIX = "lee.cor", "similarities0-1.txt"


@dataclass(frozen=True)
class Benchmark:
    """One similarity benchmark: `check(cfg)` before anything loads, `load(cfg)` its pairs in a fixed order."""

    name: str  # data.benchmark
    check: Callable[[Any], None]
    load: Callable[[Any], list[ScoredPair]]
    packaged: bool = True  # it ships with gensim (data.benchmark_path does not apply)


def check_benchmark(cfg: Any) -> None:
    """Cheap checks of data.benchmark, data.benchmark_path and data.positive_threshold; nothing loads."""
    threshold = cfg.positive_threshold
    if threshold is None or not 0.0 <= threshold <= 1.0:
        raise UserError(f"data.positive_threshold={threshold} must lie in [0, 1] (a similarity score scaled to [0, 1] "
                        "from which a scored pair counts as a positive)")
    name = chosen_name(cfg)
    if name is None:
        return
    chosen = benchmark(name)
    if chosen.packaged and cfg.benchmark_path:
        raise UserError(f"data.benchmark_path={cfg.benchmark_path} would be ignored: data.benchmark={name} comes with "
                        "gensim; drop data.benchmark_path, or use data.benchmark=stsb (a file or hub id in the STS-B "
                        "schema)")
    chosen.check(cfg)


def chosen_name(cfg: Any) -> str | None:
    """data.benchmark, or `stsb` when only data.benchmark_path is given (the benchmark that reads a file)."""
    if cfg.benchmark is None and cfg.benchmark_path:
        return "stsb"
    return None if cfg.benchmark is None else str(cfg.benchmark)


def benchmark(name: str) -> Benchmark:
    found = [b for b in BENCHMARKS if b.name == name]
    if not found:
        raise UserError(f"data.benchmark={name} is not a known benchmark; choose one of "
                        f"{', '.join(b.name for b in BENCHMARKS)}, or null for none")
    return found[0]


def load_benchmark(cfg: Any) -> list[ScoredPair]:
    """The pairs of `data.benchmark` (or of the file data.benchmark_path names), scores in [0, 1], in a fixed order;
    [] when there is none."""
    check_benchmark(cfg)
    name = chosen_name(cfg)
    return [] if name is None else benchmark(name).load(cfg)


def _check_stsb(cfg: Any) -> None:
    path, split = cfg.benchmark_path or STSB.hub_id, cfg.benchmark_split
    if looks_local(path) or os.path.exists(os.path.expanduser(path)):
        STSB.check_path(path, option="data.benchmark_path")
    elif path == STSB.hub_id and split not in STSB.splits:
        raise UserError(f"data.benchmark_split={split}: {STSB.hub_id} has no such split; choose one of "
                        f"{', '.join(STSB.splits)}")


def _files(*names: str) -> Callable[[Any], None]:
    def check(cfg: Any) -> None:
        for name in names:
            data_file(name)  # raises if gensim or the file is missing

    return check


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
def _words(name: str, file: str) -> tuple[ScoredPair, ...]:
    pairs = []
    for number, line in enumerate(read_lines(file), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 3:
            raise UserError(f"{data_file(file)} line {number}: expected word1, word2 and a score "
                            "separated by tabs; reinstall gensim")
        score = round(float(cells[2]) / 10, 6)  # 7.35 -> 0.735, not 0.7349999999999999
        pairs.append(ScoredPair(text1=cells[0].strip(), text2=cells[1].strip(), score=score, group=f"{name}:{number}"))
    return tuple(pairs)


def word_pairs(name: str, file: str) -> list[ScoredPair]:
    """The word pairs of a word-similarity file (wordsim353, simlex999), in file order, scores divided by 10."""
    return list(_words(name, file))


def stsb_pairs(path: str, split: str = "test") -> list[ScoredPair]:
    """Every pair of one STS-B split (or of a local file in its schema: sentence1, sentence2, score in [0, 1])."""
    rows, origin = STSB.rows(path, split, strict=True, option="data.benchmark_split",
                             path_option="data.benchmark_path")  # a benchmark is read whole: a bad row stops the run
    return ScoredPair.parse(rows, STSB_COLUMNS, origin)


BENCHMARKS = (  # data.benchmark's choices, in the order config.schema.Benchmark lists them
    Benchmark("lee", _files(LEE_DOCUMENTS, LEE_MATRIX), lambda cfg: lee_pairs()),
    Benchmark("wordsim353", _files("wordsim353.tsv"), lambda cfg: word_pairs("wordsim353", "wordsim353.tsv")),
    Benchmark("simlex999", _files("simlex999.txt"), lambda cfg: word_pairs("simlex999", "simlex999.txt")),
    Benchmark("stsb", _check_stsb, lambda cfg: stsb_pairs(cfg.benchmark_path or STSB.hub_id, cfg.benchmark_split),
              packaged=False),
)
