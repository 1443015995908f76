"""Unlearning evaluation: how much the policy forgot of the forget set, and what it kept of the retain set.

Three sets: `forget` (what is to be forgotten), `retain` (retain examples the retain loss trains on, as TOFU
evaluates its retain set) and `heldout` (retain examples of groups never trained on: does the model keep
what it was not reminded of?). Per set S, with log pi(y|x) a completion's log-probability (summed over tokens):
  S_logp   mean log pi(y|x) over the set (forget: lower = more forgotten; retain: should stay)
  S_nll    per-token negative log-likelihood over the set's tokens
  S_ppl    perplexity, exp(S_nll)
and against the first policy measured (the initial policy):
  forget_logp_drop                forget_logp before - now (positive = forgotten)
  retain_logp_change, heldout_logp_change   now - before (near 0 = kept)
"""

from __future__ import annotations

import math

from contrastlab.data.encoding import Encoding
from contrastlab.eval.preference import sequence_logps


def sequence_id(prompt: list[int], completion: list[int]) -> str:
    """A short hash of a sequence's token ids (two runs measured the same example when their ids agree)."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps([prompt, completion]).encode()).hexdigest()[:12]


def encode_examples(encoding: Encoding, records, max_length: int) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids) of each record's (first) sequence, cut at `max_length`."""
    out = []
    for r in records:
        encoded = encoding.split(r.sequences()[:1], max_length)[0]
        out.append((encoded.prompt, encoded.completion))
    return out


class UnlearningEvaluator:
    """Log-likelihoods of each set ({name: encoded examples}); the first call is the baseline for the changes."""

    def __init__(self, sets: dict[str, list], batch_size: int, pad_id: int):
        self.sets, self.batch_size, self.pad_id = sets, batch_size, pad_id
        self.baseline: dict[str, float] | None = None
        self.first: dict[str, list[float]] = {}  # per set, the first policy's per-example log-probs
        self.ids = [f"{name}:{sequence_id(p, c)}" for name, encoded in sets.items() for p, c in encoded]
        self.examples: dict[str, list] = {}  # the last call's per-example values ("id" first; None off its set)

    def _per_example(self, values: dict[str, list[float]]) -> dict[str, list]:
        """One column per metric of a set's examples, None in the rows of the other sets."""
        out: dict[str, list] = {"id": self.ids}
        start = 0
        for name, encoded in self.sets.items():
            for column, vals in values.items():
                if column.startswith(f"{name}_"):
                    out.setdefault(column, [None] * len(self.ids))[start : start + len(encoded)] = vals
            start += len(encoded)
        return out

    def __call__(self, model, desc: str = "eval") -> dict[str, float]:
        metrics, values = {}, {}
        for name, encoded in self.sets.items():
            if not encoded:
                continue
            logps, counts = sequence_logps(model, encoded, self.batch_size, self.pad_id, f"{desc} ({name})")
            first = self.first.setdefault(name, logps.tolist())
            values[f"{name}_logp"] = logps.tolist()
            change = [now - then for now, then in zip(logps.tolist(), first)]
            if name == "forget":
                values["forget_logp_drop"] = [-c for c in change]
            else:
                values[f"{name}_logp_change"] = change
            nll = -logps.sum().item() / max(int(counts.sum()), 1)
            metrics[f"{name}_logp"] = logps.mean().item()
            metrics[f"{name}_nll"] = nll
            metrics[f"{name}_ppl"] = math.exp(min(nll, 50.0))
        if self.baseline is None:
            self.baseline = dict(metrics)
        if "forget_logp" in metrics:
            metrics["forget_logp_drop"] = self.baseline["forget_logp"] - metrics["forget_logp"]
        for name in ("retain", "heldout"):
            if f"{name}_logp" in metrics:
                metrics[f"{name}_logp_change"] = metrics[f"{name}_logp"] - self.baseline[f"{name}_logp"]
        self.examples = self._per_example(values)
        return metrics
