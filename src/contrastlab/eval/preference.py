"""Held-out preference evaluation, the same for every objective of a family (`PairEvaluator` for policies,
`RewardEvaluator` for reward models).

Policy family (a language model): the sequence log-probability of each completion under the policy,
log pi(y|x) = sum_t log pi(y_t | x, y_<t). The reference log-probs are those of the policy before
training (the reference policy *is* the initial policy), computed once and passed back in, so the trained
policy never stands in for the reference. With implicit reward r(x, y) = beta (log pi(y|x) - log ref(y|x)):
  pref_accuracy  = mean[r(x, y_w) > r(x, y_l)]      (ties count one half: 0.5 before training)
  reward_margin  = mean[r(x, y_w) - r(x, y_l)]
  rank_accuracy  = mean[log pi(y_w|x) > log pi(y_l|x)] (no reference; ties count one half)
Diagnostics the literature asks for, per pair and as means:
  chosen_shift   = mean[log pi(y_w|x) - log ref(y_w|x)]   (negative: the chosen completion lost likelihood)
  displaced      = mean[chosen_shift < 0 and r(x, y_w) > r(x, y_l)]: likelihood displacement, the margin won while
                   the chosen log-prob fell (Razin et al. 2024, "Unintentional Unalignment", arXiv:2410.08847)
  ches           = the reference's CHES score <sum h(y_w), sum h(y_l)> - ||sum h(y_w)||^2 over the last hidden
                   states at the completion's positions (ibid.): high CHES, displacement expected
  ideal_rank_accuracy = mean[log ref(y_w|x) - log ref(y_l|x) + log(a / (1 - a)) / beta > 0]: the ranking accuracy
                   of the policy that optimises the DPO objective perfectly, a = P(y_w preferred) (Bradley-Terry on
                   the pair's scores, else eval.preference_probability) (Chen et al. 2024, arXiv:2405.19534)
Reward family (a scalar scorer r): pref_accuracy = mean[r(x,y_w) > r(x,y_l)], reward_margin = mean gap.

In several processes (`hardware.num_processes` > 1) each process scores its `shard` of the items and every
process gets all of them back (`gather`), so every process computes the same metrics as one process would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from contrastlab.data.encoding import Encoded, Encoding
from contrastlab.heap import mapped_temporaries
from contrastlab.distributed import gather_tensor, is_main, shard


@dataclass(frozen=True)
class EncodedPair:
    """A held-out pair as the one encoding gives it (`data.encoding`), each side cut at max_length (keep_start)."""

    chosen: Encoded
    rejected: Encoded


def encode_pairs(encoding: Encoding, records: list, max_length: int) -> list[EncodedPair]:
    """Pairwise records (their sequences are chosen, then rejected) -> EncodedPair, cut at `max_length`."""
    return [EncodedPair(*encoding.split(r.sequences()[:2], max_length)) for r in records]


def _pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _pair_batches(model, encoded: list[EncodedPair], batch_size: int, pad_id: int, desc: str):
    """Yield (batch, ids, mask) with the chosen sequences first, then the rejected ones: (2B, T) each."""
    device = _device(model)
    for start in tqdm(range(0, len(encoded), batch_size), desc=desc, leave=False, disable=not is_main()):
        batch = encoded[start : start + batch_size]
        ids, mask = _pad([p.chosen.prompt + p.chosen.completion for p in batch]
                         + [p.rejected.prompt + p.rejected.completion for p in batch], pad_id)
        yield batch, ids.to(device), mask.to(device)


def _split(values: list[torch.Tensor], n_per_batch: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    chosen = torch.cat([v[:n] for v, n in zip(values, n_per_batch)])
    rejected = torch.cat([v[n:] for v, n in zip(values, n_per_batch)])
    return chosen, rejected


@torch.no_grad()
def sequence_logps(model, encoded: list[tuple[list[int], list[int]]], batch_size: int, pad_id: int,
                   desc: str = "eval", hidden: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Sequence log-probs (N,) of (prompt ids, completion ids) pairs, summed over the completion tokens only,
    and the completion token counts (N,). Several processes: each runs its shard, all get the N values.
    `hidden` (a list): gets the (N, H) sums of the last hidden states at the positions that predict the
    completion's tokens (CHES)."""
    with mapped_temporaries():  # the full-vocabulary logits go back to the system batch by batch (contrastlab.heap)
        return _sequence_logps(model, encoded, batch_size, pad_id, desc, hidden)


def _sequence_logps(model, encoded, batch_size: int, pad_id: int, desc: str, hidden: list | None):
    was_training = model.training
    model.eval()
    device = _device(model)
    local = shard(encoded)
    logps, counts, sums = [], [], []
    for start in tqdm(range(0, len(local), batch_size), desc=desc, leave=False, disable=not is_main()):
        batch = local[start : start + batch_size]
        ids, mask = _pad([p + c for p, c in batch], pad_id)
        ids, mask = ids.to(device), mask.to(device)
        starts = torch.tensor([len(p) for p, _ in batch], device=device)  # (B,)
        states = {"output_hidden_states": True} if hidden is not None else {}
        out = model(input_ids=ids, attention_mask=mask, **states)
        logits = out.logits[:, :-1].float()  # (B, T-1, V)
        token = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
        positions = torch.arange(ids.shape[1] - 1, device=device)[None, :]  # position t predicts token t+1
        in_completion = (positions + 1 >= starts[:, None]) & mask[:, 1:].bool()
        logps.append((token * in_completion).sum(-1).cpu())
        counts.append(in_completion.sum(-1).cpu())
        if hidden is not None:
            last = out.hidden_states[-1][:, :-1].float()  # (B, T-1, H)
            sums.append((last * in_completion[..., None]).sum(1).cpu())  # (B, H)
    model.train(was_training)
    if hidden is not None:
        hidden.append(gather_tensor(torch.cat(sums), len(encoded)))
    return gather_tensor(torch.cat(logps), len(encoded)), gather_tensor(torch.cat(counts), len(encoded))


def completion_logps(model, encoded: list[EncodedPair], batch_size: int, pad_id: int, desc: str = "eval",
                     hidden: list | None = None):  # fmt: skip
    """Sequence log-probs of chosen and rejected completions: two tensors of shape (N,). Each forward pass
    takes `batch_size` pairs: their chosen sequences, then their rejected ones. `hidden` (a list): gets the
    (chosen, rejected) sums of their last hidden states, each (N, H)."""
    sequences, sizes = [], []
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        sequences += [(p.chosen.prompt, p.chosen.completion) for p in batch]
        sequences += [(p.rejected.prompt, p.rejected.completion) for p in batch]
        sizes.append(len(batch))
    states: list | None = [] if hidden is not None else None
    logps, _ = sequence_logps(model, sequences, 2 * batch_size, pad_id, desc, states)
    if hidden is not None:
        hidden.append(_split(list(states[0].split([2 * n for n in sizes])), sizes))
    return _split(list(logps.split([2 * n for n in sizes])), sizes)


@torch.no_grad()
def reward_scores(model, encoded: list[EncodedPair], batch_size: int, pad_id: int, desc: str = "eval"):
    """Scalar rewards of chosen and rejected completions: two tensors of shape (N,). Several processes: each scores
    its shard of the pairs, all get the N pairs' scores."""
    was_training = model.training
    model.eval()
    values, sizes = [], []
    for batch, ids, mask in _pair_batches(model, shard(encoded), batch_size, pad_id, desc):
        values.append(model(input_ids=ids, attention_mask=mask).logits[:, 0].float().cpu())  # (2B,)
        sizes.append(len(batch))
    model.train(was_training)
    chosen, rejected = _split(values, sizes)
    return gather_tensor(chosen, len(encoded)), gather_tensor(rejected, len(encoded))


def _wins(diff: torch.Tensor) -> torch.Tensor:
    return (diff > 0).float() + 0.5 * (diff == 0).float()


def _win_rate(diff: torch.Tensor) -> float:
    return _wins(diff).mean().item()


def pair_ids(encoded: list[EncodedPair]) -> list[str]:
    """A short hash of each held-out pair's token ids: two runs measured the same example when their ids agree."""
    import hashlib
    import json

    return [hashlib.sha1(json.dumps([p.chosen.prompt + p.chosen.completion, p.rejected.prompt + p.rejected.completion])
                         .encode()).hexdigest()[:12] for p in encoded]  # fmt: skip


POLICY_METRICS = ("pref_accuracy", "reward_margin", "rank_accuracy", "logp_chosen", "logp_rejected", "chosen_shift",
                  "displaced")  # fmt: skip
REFERENCE_METRICS = ("ideal_rank_accuracy", "ches")  # the reference's, the same at every stage


def policy_values(policy: tuple, reference: tuple, beta: float) -> dict[str, torch.Tensor]:
    """Per-example values (N,) from (chosen, rejected) log-probs of the policy and of the reference, each (N,): those
    of `POLICY_METRICS` (whose means are the metrics), and the reference's log-probs beside them."""
    pc, pr = policy
    rc, rr = reference
    margin = beta * ((pc - rc) - (pr - rr))  # (N,) implicit reward of chosen minus rejected
    shift = pc - rc
    return {"pref_accuracy": _wins(margin), "reward_margin": margin, "rank_accuracy": _wins(pc - pr),
            "logp_chosen": pc, "logp_rejected": pr, "chosen_shift": shift,
            "displaced": ((shift < 0) & (margin > 0)).float(), "ref_logp_chosen": rc,
            "ref_logp_rejected": rr}  # fmt: skip


def ches(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """CHES per pair from the (N, H) sums of the last hidden states over the chosen and rejected completions:
    <h_w, h_l> - ||h_w||^2 (Razin et al. 2024, Definition 2)."""
    return (chosen * rejected).sum(-1) - (chosen * chosen).sum(-1)


def ideal_rank_wins(reference: tuple, log_odds: torch.Tensor, beta: float) -> torch.Tensor:
    """Per pair, whether the DPO-optimal policy pi* = ref exp(r / beta) / Z ranks chosen above rejected, with
    r_w - r_l = `log_odds` = log(a / (1 - a)) (Chen et al. 2024, Theorem 3.1); a tie counts one half."""
    rc, rr = reference
    return _wins((rc - rr) + log_odds / beta)


def policy_metrics(policy: tuple, reference: tuple, beta: float) -> dict[str, float]:
    """Metrics from (chosen, rejected) log-probs of the policy and of the reference, each of shape (N,)."""
    values = policy_values(policy, reference, beta)
    return {name: values[name].mean().item() for name in POLICY_METRICS}


def reward_values(scores: tuple) -> dict[str, torch.Tensor]:
    """Per-example values (N,) from (chosen, rejected) scores of a reward model, each (N,); their means are the
    metrics."""
    sc, sr = scores
    return {"pref_accuracy": _wins(sc - sr), "reward_margin": sc - sr, "reward_chosen": sc, "reward_rejected": sr}


def reward_metrics(scores: tuple) -> dict[str, float]:
    """Metrics from (chosen, rejected) scores of a reward model, each of shape (N,)."""
    return {name: value.mean().item() for name, value in reward_values(scores).items()}


def _examples(ids: list[str], values: dict[str, torch.Tensor]) -> dict[str, list]:
    """An evaluator's per-example record: the ids, then each value as a list."""
    return {"id": ids, **{name: value.tolist() for name, value in values.items()}}


def attribute_metrics(margin: torch.Tensor, diffs: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per attribute a: `attr/<a>_accuracy` = how often the implicit reward margin (N,) has the sign of the
    pair's score difference on a (N,), over the pairs that differ on a (a margin of 0 counts one half)."""
    out = {}
    for name, diff in diffs.items():
        differ = diff != 0
        if differ.any():
            out[f"attr/{name}_accuracy"] = _win_rate(margin[differ] * diff[differ].sign())
    return out


class PairEvaluator:
    """The held-out evaluation of a policy. The first policy measured is the reference of the later ones.

    `attributes`: per-attribute score differences (chosen minus rejected) of the held-out pairs, for
    multi-attribute data: adds `attr/<name>_accuracy` (see `attribute_metrics`).
    """

    def __init__(self, encoded, beta: float, batch_size: int, pad_id: int,
                 attributes: dict[str, torch.Tensor] | None = None, log_odds: torch.Tensor | None = None):  # fmt: skip
        self.encoded, self.beta = encoded, beta
        self.batch_size, self.pad_id, self.attributes = batch_size, pad_id, attributes or {}
        self.log_odds = log_odds  # (N,) log(a / (1 - a)) of each pair, for ideal_rank_accuracy; None = not measured
        self.reference = None  # (chosen, rejected) log-probs of the initial policy
        self.diagnostics: dict[str, torch.Tensor] = {}  # the reference's REFERENCE_METRICS per pair
        self.ids = pair_ids(encoded)
        self.examples: dict[str, list] = {}  # the last call's per-example values ("id" first)

    def __call__(self, model, desc: str = "eval") -> dict[str, float]:
        first = self.reference is None
        hidden: list | None = [] if first else None
        logps = completion_logps(model, self.encoded, self.batch_size, self.pad_id, desc, hidden)
        if first:
            self.reference = logps
            self.diagnostics = {"ches": ches(*hidden[0])}
            if self.log_odds is not None:
                self.diagnostics["ideal_rank_accuracy"] = ideal_rank_wins(logps, self.log_odds, self.beta)
        values = {**policy_values(logps, self.reference, self.beta), **self.diagnostics}
        metrics = {name: values[name].mean().item() for name in (*POLICY_METRICS, *REFERENCE_METRICS)
                   if name in values}  # fmt: skip
        self.examples = _examples(self.ids, values)
        if self.attributes:
            margin = (logps[0] - self.reference[0]) - (logps[1] - self.reference[1])
            metrics.update(attribute_metrics(margin, self.attributes))
        return metrics


class RewardEvaluator:
    """The held-out evaluation of a scalar reward model: how often it scores chosen above rejected, and by how much."""

    def __init__(self, encoded, batch_size: int, pad_id: int):
        self.encoded, self.batch_size, self.pad_id = encoded, batch_size, pad_id
        self.ids = pair_ids(encoded)
        self.examples: dict[str, list] = {}  # the last call's per-example values ("id" first)

    def __call__(self, model, desc: str = "eval") -> dict[str, float]:
        values = reward_values(reward_scores(model, self.encoded, self.batch_size, self.pad_id, desc))
        self.examples = _examples(self.ids, values)
        return {name: value.mean().item() for name, value in values.items()}
