"""Records -> rows of K (prompt, completion) sequences -> padded batches, tokenized the way TRL's DPOTrainer does.

Every objective our preference trainer runs sees an example as K sequences that share one forward pass:
| record | K | sequences, in order | extra columns |
|---|---|---|---|
| PreferencePair | 2 | chosen, rejected | scores (B, 2) when every pair has both scores |
| Ranked | n (lists padded to the longest in the batch) | the completions | scores (B, K) |
| MultiAttribute | 2 | chosen, rejected | attributes (B, 2, M) |
| Forget | 1, or 2 with a retain set | a forget example, then a retain example (cycled, seeded) | |

Tokenization follows TRL 1.16 (`DPOTrainer._prepare_dataset`): a string completion gets EOS appended; the
prompt and prompt + completion are tokenized whole (with the chat template for message lists); the completion
starts where the two diverge, the shortest such prefix over the completions of one prompt. The collator
cuts each sequence at `max_length` from the end (`keep_start`), pads on the right, and lays the batch out
position-major: all first sequences, then all second sequences, ... (TRL's [chosen..., rejected...]).
"""

from __future__ import annotations

import random
from typing import Any

import torch

from contrastlab.data.records import Forget, MultiAttribute, PreferencePair, Ranked
from contrastlab.errors import UserError


def _messages(value: Any, role: str) -> list[dict]:
    return value if isinstance(value, list) else [{"role": role, "content": value}]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class SequenceTokenizer:
    """(prompt, [completions]) -> ([token ids of prompt + completion], prompt length shared by the completions)."""

    def __init__(self, tokenizer, chat: bool):
        self.tokenizer, self.chat = tokenizer, chat

    def _ids(self, value: Any, generation_prompt: bool = False) -> list[int]:
        if isinstance(value, list):  # messages: the chat template
            out = self.tokenizer.apply_chat_template(value, tokenize=True, return_dict=True,
                                                     add_generation_prompt=generation_prompt)  # fmt: skip
            return list(out["input_ids"])
        return list(self.tokenizer(text=value)["input_ids"])

    def __call__(self, prompt: Any, completions: list[Any]) -> tuple[list[list[int]], int]:
        if self.chat:
            prompt = _messages(prompt, "user")
            completions = [_messages(c, "assistant") for c in completions]
            prompt_ids = self._ids(prompt, generation_prompt=True)
            full = [self._ids(prompt + c) for c in completions]
        else:
            if not isinstance(prompt, str) or not all(isinstance(c, str) for c in completions):
                raise UserError("the data is conversational (message lists), so the model needs a chat template: "
                                "set model.chat_template=true and use a model whose tokenizer has one")
            eos = self.tokenizer.eos_token or ""
            completions = [c if c.endswith(eos) else c + eos for c in completions]
            prompt_ids = self._ids(prompt)
            full = [self._ids(prompt + c) for c in completions]
        start = min(_common_prefix(prompt_ids, ids) for ids in full)
        return full, start


def _scored(records: list) -> bool:
    return all(r.score_chosen is not None and r.score_rejected is not None for r in records)


def sequence_rows(records: list, tok: SequenceTokenizer, max_length: int, seed: int = 0,
                  retain: bool = True) -> list[dict]:  # fmt: skip
    """One row per training example: {"ids": K lists, "starts": K ints[, "scores"][, "attributes"]}.

    Forget records: one row per forget example, with a retain example as its second sequence unless `retain`
    is False (an objective without a retain term) or there are none.
    Examples whose prompt alone fills `max_length` are dropped, as TRL drops them (no completion token left).
    """
    if not records:
        return []
    kind = type(records[0])
    if kind is Forget:
        return _forget_rows(records, tok, max_length, seed, retain)
    rows = []
    with_scores = kind is Ranked or (kind is PreferencePair and _scored(records))
    names = list(records[0].scores_chosen) if kind is MultiAttribute else []
    for r in records:
        completions = r.completions if kind is Ranked else [r.chosen, r.rejected]
        ids, start = tok(r.prompt, completions)
        if start >= max_length:
            continue
        row = {"ids": ids, "starts": [start] * len(ids)}
        if kind is Ranked:
            row["scores"] = [float(s) for s in r.scores]
        elif with_scores:
            row["scores"] = [float(r.score_chosen), float(r.score_rejected)]
        if kind is MultiAttribute:
            row["attributes"] = [[float(r.scores_chosen[n]) for n in names],
                                 [float(r.scores_rejected[n]) for n in names]]  # fmt: skip
        rows.append(row)
    return rows


def _forget_rows(records: list, tok: SequenceTokenizer, max_length: int, seed: int, with_retain: bool) -> list[dict]:
    """One row per forget example, paired with a retain example when there are any (cycled in a seeded order)."""
    forget = [r for r in records if r.split == "forget"]
    retain = [r for r in records if r.split == "retain"] if with_retain else []
    order = list(range(len(retain)))
    random.Random(seed).shuffle(order)
    rows = []
    for i, f in enumerate(forget):
        ids, start = tok(f.prompt, [f.completion])
        if start >= max_length:
            continue
        row = {"ids": ids, "starts": [start]}
        if retain:
            r = retain[order[i % len(order)]]
            r_ids, r_start = tok(r.prompt, [r.completion])
            row["ids"], row["starts"] = ids + r_ids, [start, r_start]
        rows.append(row)
    return rows


def attribute_names(records: list) -> list[str]:
    """The attribute names of MultiAttribute records, in their order; [] for other records."""
    return list(records[0].scores_chosen) if records and isinstance(records[0], MultiAttribute) else []


class SequenceCollator:
    """Rows -> {"input_ids", "attention_mask", "completion_mask": (K*B, T), "present": (B, K), ...}."""

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
        if "scores" in rows[0]:
            batch["scores"] = torch.tensor([row["scores"] + [0.0] * (k - len(row["scores"])) for row in rows])
        if "attributes" in rows[0]:
            batch["attributes"] = torch.tensor([row["attributes"] for row in rows])  # (B, 2, M)
        if "ref_logps" in rows[0]:
            batch["ref_logps"] = torch.tensor([row["ref_logps"] + [0.0] * (k - len(row["ref_logps"]))
                                               for row in rows])  # fmt: skip
        return batch
