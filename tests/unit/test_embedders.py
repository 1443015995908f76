"""Pooling of hidden states into text embeddings: mean over real tokens, first token, last real token."""

from __future__ import annotations

import torch

from contrastlab.models.embedders import pool

# two texts, 3 positions, width 2; text 0 has 2 real tokens, text 1 has 3
HIDDEN = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [50.0, 60.0]],
                       [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]])  # fmt: skip


def test_mean_pools_over_real_tokens_only():
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    # text 0: mean of (1, 2) and (3, 4) = (2, 3), the padded (50, 60) ignored; text 1: (2, 3)
    assert torch.equal(pool(HIDDEN, mask, "mean"), torch.tensor([[2.0, 3.0], [2.0, 3.0]]))


def test_cls_takes_the_first_position():
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.equal(pool(HIDDEN, mask, "cls"), torch.tensor([[1.0, 2.0], [0.0, 1.0]]))


def test_last_takes_the_last_real_token_with_either_padding_side():
    right = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.equal(pool(HIDDEN, right, "last"), torch.tensor([[3.0, 4.0], [4.0, 5.0]]))
    left = torch.tensor([[0, 1, 1], [1, 1, 1]])
    assert torch.equal(pool(HIDDEN, left, "last"), torch.tensor([[50.0, 60.0], [4.0, 5.0]]))
