"""Held-out metrics, with expected values worked out by hand, and completion log-probs against a direct sum."""

from __future__ import annotations

import math

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


def test_likelihood_displacement_by_hand():
    # the same 4 pairs: chosen log-ratios 0, -1, 1, 0; margins (beta 0.5) 0.5, -1, 0, 0
    policy = (torch.tensor([-10.0, -12.0, -9.0, -5.0]), torch.tensor([-11.0, -10.0, -9.0, -6.0]))
    reference = (torch.tensor([-10.0, -11.0, -10.0, -5.0]), torch.tensor([-10.0, -11.0, -10.0, -6.0]))
    m = policy_metrics(policy, reference, beta=0.5)
    assert m["chosen_shift"] == pytest.approx((0 - 1 + 1 + 0) / 4)
    assert m["displaced"] == 0.0  # pair 2 lost chosen likelihood but also its margin: not displacement
    displaced = (torch.tensor([-12.0]), torch.tensor([-15.0]))  # chosen -2 nats, rejected -5: the margin rose
    m = policy_metrics(displaced, (torch.tensor([-10.0]), torch.tensor([-10.0])), beta=0.1)
    assert m["displaced"] == 1.0 and m["reward_margin"] == pytest.approx(0.3) and m["chosen_shift"] == -2.0


def test_ches_and_the_idealised_ranking_accuracy_by_hand():
    from contrastlab.eval.preference import ches, ideal_rank_wins

    h_w = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    h_l = torch.tensor([[2.0, 0.0], [-1.0, 0.0]])
    # <h_w, h_l> - |h_w|^2: 2 - 1 = 1; -1 - 2 = -3
    assert ches(h_w, h_l).tolist() == [1.0, -3.0]
    # reference log-ratio chosen - rejected: -2, -2, 1; a = 0.75 -> log 3 = 1.0986; beta 0.5 -> +2.197
    reference = (torch.tensor([-12.0, -12.0, -9.0]), torch.tensor([-10.0, -10.0, -10.0]))
    odds = torch.tensor([math.log(3.0), math.log(3.0) / 2, math.log(3.0)])
    # -2 + 2.197 > 0 yes; -2 + 1.0986 < 0 no; 1 + 2.197 > 0 yes
    assert ideal_rank_wins(reference, odds, beta=0.5).tolist() == [1.0, 0.0, 1.0]


def test_the_evaluator_measures_ches_from_the_reference_hidden_states():
    import transformers

    from contrastlab.eval.preference import PairEvaluator

    transformers.set_seed(0)
    config = transformers.LlamaConfig(vocab_size=16, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                      num_key_value_heads=2, intermediate_size=16)  # fmt: skip
    model = transformers.LlamaForCausalLM(config).eval()
    pairs = [_pair([1, 2], [3, 4, 5], [6]), _pair([1], [7], [8, 9])]
    evaluate = PairEvaluator(pairs, beta=0.1, batch_size=2, pad_id=0, log_odds=torch.tensor([0.0, 50.0]))
    metrics = evaluate(model)
    expected = []
    with torch.no_grad():
        for pair in pairs:
            sums = []
            for side in (pair.chosen, pair.rejected):
                ids = torch.tensor([side.prompt + side.completion])
                states = model(input_ids=ids, output_hidden_states=True).hidden_states[-1][0]
                sums.append(states[len(side.prompt) - 1 : -1].sum(0))  # the positions predicting the completion
            expected.append(float(sums[0] @ sums[1] - sums[0] @ sums[0]))
    assert evaluate.examples["ches"] == pytest.approx(expected, rel=1e-4, abs=1e-4)
    assert metrics["ches"] == pytest.approx(sum(expected) / 2, rel=1e-4, abs=1e-4)
    assert evaluate.examples["ideal_rank_accuracy"][1] == 1.0  # a huge preference wins whatever the reference says
    again = evaluate(model)  # a later stage: the reference's diagnostics, unchanged
    assert again["ches"] == metrics["ches"] and again["displaced"] == 0.0


def test_unlearning_keeps_per_example_values_for_intervals():
    import transformers

    from contrastlab.eval.unlearning import UnlearningEvaluator
    from contrastlab.tracking.examples import intervals

    transformers.set_seed(0)
    config = transformers.LlamaConfig(vocab_size=16, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                      num_key_value_heads=2, intermediate_size=16)  # fmt: skip
    model = transformers.LlamaForCausalLM(config).eval()
    sets = {"forget": [([1, 2], [3, 4]), ([1], [5, 6, 7])], "heldout": [([2], [8]), ([3], [9, 10]), ([4], [11])]}
    evaluate = UnlearningEvaluator(sets, batch_size=2, pad_id=0)
    evaluate(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    metrics = {f"after/{k}": v for k, v in evaluate(model).items()}
    ex = evaluate.examples
    assert len(ex["id"]) == 5 and ex["id"][0].startswith("forget:") and ex["id"][2].startswith("heldout:")
    assert ex["forget_logp"][2:] == [None] * 3 and ex["heldout_logp"][:2] == [None] * 2
    drops = [v for v in ex["forget_logp_drop"] if v is not None]
    assert sum(drops) / 2 == pytest.approx(metrics["after/forget_logp_drop"], abs=1e-5)
    ci = intervals("after", metrics, ex, resamples=200, seed=0)
    for name in ("forget_logp_drop", "heldout_logp_change", "forget_logp"):
        assert ci[f"ci_low/after/{name}"] <= metrics[f"after/{name}"] <= ci[f"ci_high/after/{name}"], name
