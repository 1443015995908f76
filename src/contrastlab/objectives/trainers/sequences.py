"""Records -> rows of K (prompt, completion) sequences -> padded batches, tokenized the way TRL's DPOTrainer does.

Every objective our preference trainer runs sees an example as K sequences that share one forward pass; the record
type says which (`Record.examples`: a pair's chosen and rejected, a list's completions, a forget example and a retain
example) and which batch extras go with them (`Record.extras`: scores, attribute scores, labels).

Tokenization is the one encoding (`data.encoding`, TRL 1.16's DPOTrainer's). An example with a sequence whose
prompt alone fills `max_length` is dropped, as TRL drops it (no completion token left). The collator
cuts each sequence at `max_length` from the end (`keep_start`), pads on the right, lays the batch out
position-major (all first sequences, then all second sequences, ...: TRL's [chosen..., rejected...]), and pads every
other column (a batch extra, or `ref_logps`) per sequence, one path for all of them.
"""

from __future__ import annotations

from typing import Any

import torch

from contrastlab.data.encoding import Encoding

TOKENS = ("ids", "starts")  # the columns of a row that are not per-sequence extras


def sequence_rows(records: list, tok: Encoding, max_length: int, seed: int = 0,
                  retain: bool = True) -> list[dict]:  # fmt: skip
    """One row per training example: {"ids": K lists, "starts": K ints, <extra>: K values, ...}. `retain`: the
    objective trains on a retain set (a record type with one pairs it in). Examples with a sequence whose prompt
    alone fills `max_length` are dropped, as TRL drops them."""
    if not records:
        return []
    rows = []
    for example in type(records[0]).examples(records, seed, retain):
        ids, starts = tok(example.sequences)
        if any(start >= max_length for start in starts):
            continue
        rows.append({"ids": ids, "starts": starts, **example.extras})
    return rows


def _pad_value(value: Any) -> Any:
    """The padding of one per-sequence extra value: 0.0, or a list of zeros as long as `value`."""
    return [0.0] * len(value) if isinstance(value, list) else 0.0


class SequenceCollator:
    """Rows -> {"input_ids", "attention_mask", "completion_mask": (K*B, T), "present": (B, K), <extra>: (B, K, ...)}."""

    def __init__(self, pad_token_id: int, max_length: int):
        self.pad_token_id, self.max_length = pad_token_id, max_length

    def __call__(self, rows: list[dict]) -> dict:
        k = max(len(row["ids"]) for row in rows)
        seqs, masks = [], []
        for j in range(k):  # position-major: every row's j-th sequence, then the next j
            for row in rows:
                if j < len(row["ids"]):
                    ids, start = row["ids"][j][: self.max_length], row["starts"][j]
                    mask = ([0] * start + [1] * (len(row["ids"][j]) - start))[: self.max_length]
                else:  # a list shorter than the batch's longest: one pad token, no completion
                    ids, mask = [self.pad_token_id], [0]
                seqs.append(ids)
                masks.append(mask)
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(seqs), width), dtype=torch.long)
        completion = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (s, m) in enumerate(zip(seqs, masks)):
            input_ids[i, : len(s)] = torch.tensor(s)
            attention[i, : len(s)] = 1
            completion[i, : len(m)] = torch.tensor(m)
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention,
            "completion_mask": completion,
            "present": torch.tensor([[j < len(row["ids"]) for j in range(k)] for row in rows]),  # (B, K)
        }
        for name in rows[0]:
            if name not in TOKENS:  # a per-sequence extra (scores, attributes, labels, ref_logps): (B, K, ...)
                pad = _pad_value(rows[0][name][0])
                batch[name] = torch.tensor([list(row[name]) + [pad] * (k - len(row[name])) for row in rows],
                                           dtype=torch.float32)
        return batch
