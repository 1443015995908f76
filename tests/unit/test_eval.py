"""Held-out metrics, with expected values worked out by hand, and completion log-probs against a direct sum."""

from __future__ import annotations

import pytest
import torch

from contrastlab.data.encoding import Encoded
from contrastlab.eval.preference import EncodedPair
from contrastlab.eval.preference import completion_logps, policy_metrics, reward_metrics


def _pair(prompt, chosen, rejected) -> EncodedPair:
    """A held-out pair of one prompt: its chosen and rejected completion ids."""
    return EncodedPair(Encoded(prompt, chosen), Encoded(prompt, rejected))


def test_policy_metrics_by_hand():
    # policy (chosen, rejected) and reference log-probs of 4 pairs
    policy = (torch.tensor([-10.0, -12.0, -9.0, -5.0]), torch.tensor([-11.0, -10.0, -9.0, -6.0]))
    reference = (torch.tensor([-10.0, -11.0, -10.0, -5.0]), torch.tensor([-10.0, -11.0, -10.0, -6.0]))
    # log-ratio margins: (0-(-1))=1, (-1-1)=-2, (1-1)=0, (0-0)=0 -> beta=0.5 gives 0.5, -1, 0, 0
    m = policy_metrics(policy, reference, beta=0.5)
    assert m["pref_accuracy"] == pytest.approx((1 + 0 + 0.5 + 0.5) / 4)  # ties count one half
    assert m["reward_margin"] == pytest.approx((0.5 - 1.0 + 0 + 0) / 4)
    # rank accuracy: -10>-11 yes, -12>-10 no, -9=-9 tie, -5>-6 yes -> (1+0+0.5+1)/4
    assert m["rank_accuracy"] == pytest.approx(2.5 / 4)
    assert m["logp_chosen"] == pytest.approx(-9.0)


def test_policy_is_its_own_reference_before_training():
    logps = (torch.randn(7), torch.randn(7))
    m = policy_metrics(logps, logps, beta=0.1)
    assert m["pref_accuracy"] == 0.5 and m["reward_margin"] == 0.0


def test_reward_metrics_by_hand():
    m = reward_metrics((torch.tensor([2.0, 0.0, 1.0]), torch.tensor([1.0, 1.0, 1.0])))
    assert m["pref_accuracy"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert m["reward_margin"] == pytest.approx(0.0)


class _Uniform(torch.nn.Module):
    """A 'model' whose next-token distribution is uniform over V tokens: every token has log-prob -log V."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask):
        class Out:
            logits = torch.zeros(*input_ids.shape, self.vocab) + self.w

        return Out()


def test_completion_logps_count_completion_tokens_only():
    vocab = 10
    pairs = [_pair(prompt=[1, 2, 3], chosen=[4, 5], rejected=[6]),
             _pair(prompt=[1], chosen=[7, 8, 9], rejected=[2, 3])]  # fmt: skip
    chosen, rejected = completion_logps(_Uniform(vocab), pairs, batch_size=1, pad_id=0)
    lv = torch.log(torch.tensor(float(vocab)))
    assert torch.allclose(chosen, torch.stack([-2 * lv, -3 * lv]))
    assert torch.allclose(rejected, torch.stack([-1 * lv, -2 * lv]))
