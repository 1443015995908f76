"""Held-out evaluation of sentence embeddings, the same for every contrastive objective.

- `spearman`, `pearson`: correlation between the cosine similarity of each benchmark pair's embeddings and the
  human score (Lee documents, WordSim353, SimLex-999, STS-B);
- `alignment`: mean squared distance between the L2-normalised embeddings of positive pairs (lower is better);
  the positives are the benchmark pairs scored at least `data.positive_threshold` (as Gao et al. take STS-B
  pairs above 4 of 5), or, without a benchmark, the held-out (anchor, positive) pairs;
- `uniformity`: log of the mean Gaussian potential exp(-2 ||x - y||^2) over all pairs of distinct texts
  (lower is more uniform). Wang and Isola 2020, arXiv:2005.10242. Both are the align_uniform loss's own functions
  (`objectives.losses.align_uniform`, alpha = 2, t = 2).

In several processes each process embeds its `shard` of the texts and every process gets all the embeddings.
"""

from __future__ import annotations

import torch
from scipy import stats

from contrastlab.data.records.scored_pair import ScoredPair
from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.distributed import gather_tensor, is_main, shard
from contrastlab.objectives.losses.align_uniform import alignment, uniformity


@torch.no_grad()
def encode(embedder, texts: list[str], batch_size: int, max_length: int, desc: str = "embed") -> torch.Tensor:
    """(N, D) float32 embeddings of `texts`, in eval mode (no dropout), longest texts batched together. Several
    processes: each embeds its shard of the texts, all get the N embeddings."""
    from tqdm.auto import tqdm

    was_training = embedder.training
    embedder.eval()
    device = next(embedder.parameters()).device
    local = shard(texts)
    order = sorted(range(len(local)), key=lambda i: -len(local[i]))
    out: list[torch.Tensor | None] = [None] * len(local)
    starts = range(0, len(local), batch_size)
    for start in tqdm(starts, desc=desc, leave=False, disable=len(starts) < 2 or not is_main()):
        index = order[start : start + batch_size]
        batch = embedder.tokenize([local[i] for i in index], max_length)
        emb = embedder(**{k: v.to(device) for k, v in batch.items()}).float().cpu()  # (b, D)
        for i, row in zip(index, emb):
            out[i] = row
    embedder.train(was_training)
    return gather_tensor(torch.stack(out), len(texts)) if out else torch.empty(0)


def _pair_id(a: str, b: str) -> str:
    import hashlib

    return hashlib.sha1(f"{a}\n{b}".encode()).hexdigest()[:12]


def _unique(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))


class EmbeddingEvaluator:
    """Benchmark correlations and alignment/uniformity of an embedder; `__call__(embedder) -> metrics`."""

    def __init__(self, benchmark: list[ScoredPair], held_out: list[SentencePair], threshold: float,
                 batch_size: int, max_length: int):  # fmt: skip
        self.benchmark, self.held_out, self.threshold = benchmark, held_out, threshold
        self.batch_size, self.max_length = batch_size, max_length
        self.examples: dict[str, list] = {}  # the last call's per benchmark pair: id, similarity, gold
        if benchmark:
            self.texts = _unique([t for p in benchmark for t in (p.text1, p.text2)])
            positives = [p for p in benchmark if p.score >= threshold]
            self.positives = [(p.text1, p.text2) for p in positives]
        else:
            self.texts = _unique([t for p in held_out for t in (p.anchor, p.positive)])
            self.positives = [(p.anchor, p.positive) for p in held_out]

    def __bool__(self) -> bool:
        return bool(self.texts)

    def __call__(self, embedder, desc: str = "eval") -> dict[str, float]:
        if not self.texts:
            return {}
        emb = encode(embedder, self.texts, self.batch_size, self.max_length, desc)  # (N, D)
        index = {t: i for i, t in enumerate(self.texts)}
        metrics: dict[str, float] = {}
        if self.benchmark:
            a = emb[[index[p.text1] for p in self.benchmark]]  # (P, D)
            b = emb[[index[p.text2] for p in self.benchmark]]
            cosine = torch.nn.functional.cosine_similarity(a, b, dim=-1).numpy()
            gold = [p.score for p in self.benchmark]
            self.examples = {"id": [_pair_id(p.text1, p.text2) for p in self.benchmark],
                             "similarity": cosine.tolist(), "gold": list(gold)}  # fmt: skip
            metrics["spearman"] = float(stats.spearmanr(cosine, gold).statistic)
            metrics["pearson"] = float(stats.pearsonr(cosine, gold).statistic)
        if self.positives:
            metrics["alignment"] = float(alignment(emb[[index[x] for x, _ in self.positives]],
                                                   emb[[index[y] for _, y in self.positives]]))  # fmt: skip
        if len(self.texts) > 1:
            metrics["uniformity"] = float(uniformity(emb))
        return metrics
