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

    def __call__(self, model, desc: str = "eval") -> dict[str, float]:
        metrics = {}
        for name, encoded in self.sets.items():
            if not encoded:
                continue
            logps, counts = sequence_logps(model, encoded, self.batch_size, self.pad_id, f"{desc} ({name})")
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
        return metrics
