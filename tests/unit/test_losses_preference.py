"""Preference losses: hand-worked values, gradients, and identities with DPO and TRL.

Expected values come from math.log / math.exp on small numbers, never from a tensor implementation.
The running pair is β = 0.5, ℓw = 1, ℓl = -1, so β h = β (ℓw - ℓl) = 1 and
DPO = L(1) = log(1 + e^-1) = 0.313261687...; L(-x) = L(x) + x is used to simplify.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hand import LOG2_3, L, close, log, randn, sig, t

from contrastlab.objectives.losses.cringe import cringe_token_loss, pairwise_cringe, sample_positive
from contrastlab.objectives.losses.listwise import lambda_weights, lipo
from contrastlab.objectives.losses.modpo import modpo
from contrastlab.objectives.losses.pairwise import cdpo, dpo_shift, dpo_sigmoid, odpo, odpo_offset

# ---------------------------------------------------------------- pairwise (DPO family)


def test_dpo_sigmoid_hand_value_and_gradient():
    """β = 0.5, ℓw = 1, ℓl = -1: L(1) = log(1 + e^-1) = 0.31326.
    Second pair ℓw = -1, ℓl = 1: L(-1) = log(1 + e) = 1.31326.
    dL/dℓw = -β σ(-β h) = -0.5 σ(-1) = -0.13447 for the first pair; dL/dℓl = +0.13447.
    """
    w, l = t(1.0, -1.0, grad=True), t(-1.0, 1.0, grad=True)
    loss = dpo_sigmoid(w, l, beta=0.5)
    close(loss, [L(1), L(-1)])
    assert L(1) == pytest.approx(0.3132616875, abs=1e-9)
    loss[0].backward()
    assert w.grad[0].item() == pytest.approx(-0.5 * sig(-1), abs=1e-12)
    assert l.grad[0].item() == pytest.approx(0.5 * sig(-1), abs=1e-12)


def _trl_dpo_source() -> str:
    spec = importlib.util.find_spec("trl")
    return (Path(spec.origin).parent / "trainer" / "dpo_trainer.py").read_text()


def test_dpo_sigmoid_equals_trl_sigmoid_formula():
    """TRL 1.16 DPOTrainer._compute_loss, f_divergence_type="reverse_kl", loss_type="sigmoid":
        chosen_logratios = chosen_logps - ref_chosen_logps   (same for rejected)
        delta_score = chosen_scores - rejected_scores        (scores = logratios for reverse_kl)
        per_sequence_loss = -F.logsigmoid(self.beta * delta_score)
    The lines are checked in TRL's source, then reproduced on random log-probs.
    """
    source = _trl_dpo_source()
    for line in [
        "chosen_logratios = chosen_logps - ref_chosen_logps",
        "rejected_logratios = rejected_logps - ref_rejected_logps",
        "chosen_scores = chosen_logratios",
        "delta_score = chosen_scores - rejected_scores",
        "per_sequence_loss = -F.logsigmoid(self.beta * delta_score)",
    ]:
        assert line in source, line
    chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps = (-10 * randn(s, 16).abs() for s in range(4))
    beta = 0.1
    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps
    delta_score = chosen_logratios - rejected_logratios
    trl = -F.logsigmoid(beta * delta_score)
    torch.testing.assert_close(dpo_sigmoid(chosen_logratios, rejected_logratios, beta), trl, atol=0, rtol=0)


def test_cdpo():
    """ε = 0.1 on the running pair: 0.9 L(1) + 0.1 L(-1) = 0.9 L(1) + 0.1 (L(1) + 1) = L(1) + 0.1 = 0.41326.
    ε = 0 is DPO (random tensors). Its minimum in β h is at log((1-ε)/ε) = log 9: derivative 0 there.
    """
    close(cdpo(t(1.0), t(-1.0), beta=0.5, label_smoothing=0.1), L(1) + 0.1)
    w, l = randn(0, 8), randn(1, 8)
    torch.testing.assert_close(cdpo(w, l, 0.3, 0.0), dpo_sigmoid(w, l, 0.3))
    h = t(log(9), grad=True)
    cdpo(h, t(0.0), beta=1.0, label_smoothing=0.1).sum().backward()
    assert h.grad.item() == pytest.approx(0.0, abs=1e-12)


def test_dpo_shift():
    """λ = 0.5 on the running pair: β ℓw - λ β ℓl = 0.5 + 0.25 = 0.75 -> L(0.75) = log(1 + e^-0.75) = 0.38687.
    λ = 1 is DPO (random tensors).
    """
    close(dpo_shift(t(1.0), t(-1.0), beta=0.5, shift=0.5), L(0.75))
    w, l = randn(2, 8), randn(3, 8)
    torch.testing.assert_close(dpo_shift(w, l, 0.3, 1.0), dpo_sigmoid(w, l, 0.3))


def test_odpo_and_offset():
    """odpo_offset: α = 0.5, s_w = 5, s_l = 1: 0.5 log 4 = log 2 = 0.69315; s_w - s_l = e: α.
    odpo on the running pair with offset log 2: L(1 - log 2) = log(1 + 2/e) = 0.55144.
    Zero offset is DPO (random tensors); s_w <= s_l raises.
    """
    offset = odpo_offset(t(5.0, 1.0 + math.e), t(1.0, 1.0), alpha=0.5)
    close(offset, [log(2), 0.5])
    close(odpo(t(1.0), t(-1.0), t(log(2)), beta=0.5), log(1 + 2 / math.e))
    w, l = randn(4, 8), randn(5, 8)
    torch.testing.assert_close(odpo(w, l, torch.zeros(8, dtype=torch.float64), 0.3), dpo_sigmoid(w, l, 0.3))
    with pytest.raises(ValueError, match="score_chosen > score_rejected"):
        odpo_offset(t(1.0, 2.0), t(0.0, 2.0), alpha=1.0)


# ---------------------------------------------------------------- cringe

# Top-3 candidates at one position: probabilities [0.5, 0.3, 0.2], ids [7, 4, 9].
PROBS, IDS = [0.5, 0.3, 0.2], [7, 4, 9]


def _one_position(negative: int, u: float) -> float:
    logps = torch.tensor([[[log(p) for p in PROBS]]], dtype=torch.float64)  # (1, 1, 3)
    got = sample_positive(logps, torch.tensor([[IDS]]), torch.tensor([[negative]]), t(u).reshape(1, 1))
    return got.item()


@pytest.mark.parametrize(
    "negative, u, want",
    [
        # negative 7 excluded: [0.3, 0.2] / 0.5 = [0.6, 0.4], cdf over positions [0, 0.6, 1.0]
        (7, 0.0, 0.3),
        (7, 0.59, 0.3),
        (7, 0.61, 0.2),
        # negative 4 excluded: [0.5, 0.2] / 0.7 = [5/7, 2/7], cdf [5/7 = 0.714, 5/7, 1]
        (4, 0.70, 0.5),
        (4, 0.72, 0.2),
        # negative not among the candidates: cdf [0.5, 0.8, 1.0]
        (1, 0.49, 0.5),
        (1, 0.79, 0.3),
        (1, 0.81, 0.2),
        (1, 0.999999, 0.2),
    ],
)
def test_sample_positive_inverse_cdf(negative, u, want):
    """Inverse CDF: the first candidate j (in top-k order) whose renormalised cdf_j > u; see the cases."""
    assert _one_position(negative, u) == pytest.approx(log(want), abs=1e-12)


def test_sample_positive_is_deterministic_and_never_the_negative():
    """Random top-5 lists where the negative is always one of the candidates: the returned log-prob is never
    the negative's (log-probs are distinct), and the same noise gives the same draw."""
    g = torch.Generator().manual_seed(0)
    logps = torch.randn(4, 32, 5, generator=g, dtype=torch.float64).log_softmax(-1).sort(-1, descending=True).values
    ids = torch.stack([torch.randperm(100, generator=g)[:5] for _ in range(4 * 32)]).reshape(4, 32, 5)
    negative_slot = torch.randint(0, 5, (4, 32), generator=g)
    negative_ids = ids.gather(-1, negative_slot.unsqueeze(-1)).squeeze(-1)
    uniform = torch.rand(4, 32, generator=g, dtype=torch.float64)
    first = sample_positive(logps, ids, negative_ids, uniform)
    torch.testing.assert_close(sample_positive(logps, ids, negative_ids, uniform.clone()), first, atol=0, rtol=0)
    negative_logps = logps.gather(-1, negative_slot.unsqueeze(-1)).squeeze(-1)
    assert (first != negative_logps).all()
    assert torch.isin(first, logps).all()
    # negative in slot 0 (the top-1) with u near 1: the last candidate, not the negative
    assert _one_position(7, 0.9999999) == pytest.approx(log(0.2), abs=1e-12)


def test_sample_positive_falls_back_to_top1():
    """k = 1 with the only candidate equal to the negative, and k = 2 with both ids equal: the top-1 (argmax)."""
    one = sample_positive(t(-0.1).reshape(1, 1, 1), torch.tensor([[[5]]]), torch.tensor([[5]]), t(0.5).reshape(1, 1))
    close(one, [[-0.1]])
    two = sample_positive(
        t(-2.0, -0.2).reshape(1, 1, 2), torch.tensor([[[5, 5]]]), torch.tensor([[5]]), t(0.9).reshape(1, 1)
    )
    close(two, [[-0.2]])


def test_sample_positive_gradient_reaches_the_chosen_candidate():
    """Negative 7, u = 0.61 picks position 2 (see the inverse-CDF cases): gradient 1 there, 0 elsewhere."""
    logps = torch.tensor([[[log(p) for p in PROBS]]], dtype=torch.float64, requires_grad=True)
    sample_positive(logps, torch.tensor([[IDS]]), torch.tensor([[7]]), t(0.61).reshape(1, 1)).sum().backward()
    close(logps.grad, [[[0.0, 0.0, 1.0]]])


def test_cringe_token_loss():
    """Row 1, both tokens kept: neg/pos log-probs log 0.2 / log 0.3 and log 0.5 / log 0.5:
        softplus(log(2/3)) = log(1 + 2/3) = log(5/3), softplus(0) = log 2 -> (log(5/3) + log 2) / 2 = 0.60199.
    Row 2, only the first token kept: neg = pos + 1 -> softplus(1) = log(1 + e) = 1.31326.
    Row 3, empty mask: 0. Gradient of row 2 w.r.t. its negative log-prob: σ(1) = 0.73106, w.r.t. the positive -σ(1).
    """
    neg = torch.tensor([[log(0.2), log(0.5)], [0.0, float("-inf")], [-1.0, -2.0]], dtype=torch.float64)
    pos = torch.tensor([[log(0.3), log(0.5)], [-1.0, -1.0], [-1.0, -2.0]], dtype=torch.float64)
    neg.requires_grad_(True)
    pos.requires_grad_(True)
    mask = torch.tensor([[True, True], [True, False], [False, False]])
    loss = cringe_token_loss(neg, pos, mask)
    close(loss, [(log(5 / 3) + log(2)) / 2, log(1 + math.e), 0.0])
    loss[1].backward()
    close(neg.grad[1], [sig(1), 0.0])
    close(pos.grad[1], [-sig(1), 0.0])


def test_pairwise_cringe_value_and_gate_without_gradient():
    """LP(yw) = -2, LP(yl) = -3, margin 1, τ = 1: g = σ((1 - 1) / 1) = 0.5; nll 1.5, cringe 0.8, α = 1:
        1.5 + 0.5 * 0.8 = 1.9.
    Second pair LP(yw) - LP(yl) = 3, τ = 2: g = σ(-1) = 0.26894; nll 1, cringe 2, α = 0.5 -> 1 + σ(-1) = 1.26894.
    Gradients: d/dnll = 1, d/dcringe = α g, and none to the log-probs through the gate.
    """
    chosen, rejected = t(-2.0, -1.0, grad=True), t(-3.0, -4.0, grad=True)
    nll, cringe = t(1.5, 1.0, grad=True), t(0.8, 2.0, grad=True)
    loss = pairwise_cringe(chosen, rejected, nll, cringe, margin=1.0, temperature=1.0, alpha=1.0)
    close(loss[0], 1.9)
    loss[0].backward()
    assert chosen.grad is None and rejected.grad is None
    close(nll.grad, [1.0, 0.0])
    close(cringe.grad, [0.5, 0.0])
    close(pairwise_cringe(chosen, rejected, nll, cringe, 1.0, 2.0, 0.5)[1], 1 + sig(-1))


# ---------------------------------------------------------------- listwise (LiPO)


def _lists(scores, labels, present=None):
    scores = torch.tensor(scores, dtype=torch.float64)
    present = torch.ones_like(scores, dtype=torch.bool) if present is None else torch.tensor(present)
    return scores, torch.tensor(labels, dtype=torch.float64), present


def test_lipo_two_items_unweighted_equals_dpo():
    """A list [yw, yl] with ψ = [1, 0] and s = β ℓ: the one pair gives L(β(ℓw - ℓl)) = DPO; the order of the
    items in the list does not matter."""
    beta, w, l = 0.3, randn(6, 8), randn(7, 8)
    scores, labels = beta * torch.stack([w, l], -1), torch.tensor([1.0, 0.0]).expand(8, 2)
    loss, valid = lipo(scores, labels, torch.ones(8, 2, dtype=torch.bool), weighting="none")
    torch.testing.assert_close(loss, dpo_sigmoid(w, l, beta))
    assert valid.all()
    swapped, _ = lipo(scores.flip(-1), labels.flip(-1), torch.ones(8, 2, dtype=torch.bool), weighting="none")
    torch.testing.assert_close(swapped, loss)


def test_lipo_two_items_lambda_is_scaled_dpo():
    """Ranks 1 and 2 whatever the scores: |1/D(1) - 1/D(2)| = 1 - 1/log2 3 = 0.36907.
    ψ = [2, 0]: |G1 - G2| = 3, so the loss is 3 (1 - 1/log2 3) DPO; ψ = [1, 0]: (1 - 1/log2 3) DPO."""
    beta, w, l = 0.3, randn(8, 8), randn(9, 8)
    scores, present = beta * torch.stack([w, l], -1), torch.ones(8, 2, dtype=torch.bool)
    for top, gain in [(2.0, 3.0), (1.0, 1.0)]:
        loss, _ = lipo(scores, torch.tensor([top, 0.0]).expand(8, 2), present)
        torch.testing.assert_close(loss, gain * (1 - 1 / LOG2_3) * dpo_sigmoid(w, l, beta))


def test_lipo_hand_worked_three_items_with_an_absent_fourth():
    """s = [1, 0, 2], ψ = [2, 1, 0]: ranks τ = [2, 3, 1], G = [3, 1, 0], 1/D(τ) = [1/log2 3, 1/2, 1].
    Pairs (ψ_i > ψ_j): (1,2) Δ = 2 (1/log2 3 - 1/2), L(1 - 0) = L(1)
                       (1,3) Δ = 3 (1 - 1/log2 3),   L(1 - 2) = L(-1)
                       (2,3) Δ = 1 (1 - 1/2) = 1/2,  L(0 - 2) = L(-2)
    loss = (sum of Δ L) / 3. A 4th item, absent, with score 10 and label 5 changes nothing (not ranked,
    no pairs); "none" weighting gives (L(1) + L(-1) + L(-2)) / 3.
    """
    a = 1 / LOG2_3
    want = (2 * (a - 0.5) * L(1) + 3 * (1 - a) * L(-1) + 0.5 * L(-2)) / 3
    scores, labels, present = _lists([[1.0, 0.0, 2.0, 10.0]], [[2.0, 1.0, 0.0, 5.0]], [[True, True, True, False]])
    loss, valid = lipo(scores, labels, present)
    close(loss, [want])
    assert valid.tolist() == [True]
    close(lipo(scores[:, :3], labels[:, :3], present[:, :3])[0], [want])
    close(lipo(scores, labels, present, weighting="none")[0], [(L(1) + L(-1) + L(-2)) / 3])
    weights = lambda_weights(labels, scores, present)
    close(weights[0, 0, 2], 3 * (1 - a))
    close(weights[0, :, 3], 0.0)
    close(weights[0, 3, :], 0.0)


def test_lambda_weights_rank_ties_by_position_and_have_no_gradient():
    """Scores [0, 0, -1], ψ = [1, 0, 0], G = [1, 0, 0]: the tie ranks item 1 first (position), τ = [1, 2, 3].
    Δ_12 = 1 (1 - 1/log2 3) = 0.36907, Δ_13 = 1 (1 - 1/log2 4) = 1/2 (it would be 1/log2 3 - 1/2 had item 2
    ranked first), Δ_23 = 0 (equal gains). The weights are detached from the scores."""
    scores = torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64, requires_grad=True)
    weights = lambda_weights(torch.tensor([[1.0, 0.0, 0.0]]), scores, torch.ones(1, 3, dtype=torch.bool))
    assert not weights.requires_grad
    a = 1 - 1 / LOG2_3
    close(weights[0], [[0.0, a, 0.5], [a, 0.0, 0.0], [0.5, 0.0, 0.0]])


def test_lipo_ties_and_absent_items_give_no_pair():
    """List 1: ψ = [1, 1] (a tie) -> no pair; list 2: one present item -> no pair; both: loss 0, valid False.
    List 3: ψ = [1, 0] with the second absent (padding score -inf) -> no pair. List 4 is a normal pair
    with s = [0, 0]: L(0) = log 2 unweighted. Gradients stay finite."""
    scores = torch.tensor([[0.3, -0.2], [0.5, 0.1], [0.5, float("-inf")], [0.0, 0.0]], dtype=torch.float64)
    scores.requires_grad_(True)
    labels = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    present = torch.tensor([[True, True], [True, False], [True, False], [True, True]])
    for weighting in ["none", "lambda"]:
        loss, valid = lipo(scores, labels, present, weighting=weighting)
        assert valid.tolist() == [False, False, False, True]
        close(loss[:3], 0.0)
    loss, _ = lipo(scores, labels, present, weighting="none")
    close(loss[3], log(2))
    loss.sum().backward()
    assert torch.isfinite(scores.grad).all()
    close(scores.grad[:3], 0.0)
    with pytest.raises(ValueError, match="weighting"):
        lipo(scores, labels, present, weighting="ndcg")


# ---------------------------------------------------------------- multi-objective (MODPO)


def test_modpo_all_weight_on_target_is_dpo():
    """weights [1, 0], target 0, positive target margins: z = β (ℓw - ℓl), loss = DPO (random tensors),
    whatever the other objective's margins."""
    w, l = randn(10, 8), randn(11, 8)
    margins = torch.stack([randn(12, 8).abs() + 0.1, randn(13, 8)], -1)  # (8, 2)
    loss, valid = modpo(w, l, margins, [1.0, 0.0], target=0, beta=0.3)
    torch.testing.assert_close(loss, dpo_sigmoid(w, l, 0.3))
    assert valid.all()


def test_modpo_hand_worked_two_objectives():
    """β = 0.5, w = [0.5, 0.5], target 0, ℓw - ℓl = 2 (ℓw = 1, ℓl = -1), other margin 1:
        z = (0.5/0.5) 2 - (1/0.5)(0.5 · 1) = 2 - 1 = 1 -> L(1) = 0.31326.
    Target 1 instead, w = [0.25, 0.5], margins [2, 3]: z = (0.5/0.5) 2 - (1/0.5)(0.25 · 2) = 2 - 1 = 1 -> L(1).
    dL/dℓw = -(β/w_k) σ(-z) = -σ(-1) = -0.26894.
    """
    w = t(1.0, grad=True)
    loss, valid = modpo(w, t(-1.0), t(1.0, 1.0).reshape(1, 2), [0.5, 0.5], target=0, beta=0.5)
    close(loss, [L(1)])
    assert valid.tolist() == [True]
    loss.sum().backward()
    assert w.grad.item() == pytest.approx(-sig(-1), abs=1e-12)
    loss, _ = modpo(t(1.0), t(-1.0), t(2.0, 3.0).reshape(1, 2), torch.tensor([0.25, 0.5]), target=1, beta=0.5)
    close(loss, [L(1)])


def test_modpo_orientation_flip_and_tie_mask():
    """Same pair as the hand-worked case (z = 1) but the target prefers the other completion (margin -1):
    loss L(-1) = log(1 + e) = 1.31326, which equals the swapped pair: ℓ' diff -2, other margin -1,
    target margin +1 -> z' = -2 + 1 = -1 -> L(-1). A target margin of 0 is a tie: loss 0, valid False."""
    margins = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    loss, valid = modpo(t(1.0, 1.0, 1.0), t(-1.0, -1.0, -1.0), margins, [0.5, 0.5], target=0, beta=0.5)
    close(loss, [L(1), L(-1), 0.0])
    assert valid.tolist() == [True, True, False]
    swapped, _ = modpo(t(-1.0), t(1.0), -margins[1:2], [0.5, 0.5], target=0, beta=0.5)
    close(swapped, loss[1:2])


def test_modpo_errors():
    margins = torch.ones(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="must be > 0"):
        modpo(t(0.0), t(0.0), margins, [0.0, 1.0], target=0, beta=0.1)
    with pytest.raises(ValueError, match="weights"):
        modpo(t(0.0), t(0.0), margins, [1.0, 0.0, 0.0], target=0, beta=0.1)
    with pytest.raises(ValueError, match="target"):
        modpo(t(0.0), t(0.0), margins, [1.0, 0.0], target=2, beta=0.1)


def test_lipo_maps_raw_ratings_to_the_papers_scale():
    """Ratings 8 and 2 (the issue's case): taken raw, the gains 2^8 - 1 and 2^2 - 1 give one pair a loss of 64.5 at
    the start (DPO: ln 2); mapped to [0, 1] by the data's range they are labels 1 and 0, the weight is
    |1 - 0| * |1/log2(2) - 1/log2(3)| and the loss that times ln 2."""
    import math
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from contrastlab.data.records.ranked import Ranked
    from contrastlab.objectives.lipo import _loss

    records = [Ranked(prompt="p", completions=["a", "b"], scores=[8.0, 2.0]),
               Ranked(prompt="q", completions=["c", "d", "e"], scores=[5.0, 2.0, 3.0])]  # fmt: skip
    batch = SimpleNamespace(logratios=torch.zeros(1, 2), extras={"scores": torch.tensor([[8.0, 2.0]])},
                            present=torch.ones(1, 2, dtype=torch.bool))  # fmt: skip
    weight = 1.0 - 1.0 / math.log2(3.0)
    for scale, expected in (("dataset", weight * math.log(2.0)), ("none", 252.0 * weight * math.log(2.0))):
        cfg = OmegaConf.create({"beta": 0.1, "weighting": "lambda", "score_scale": scale})
        loss, _ = _loss(cfg, records)(batch)
        assert loss.item() == pytest.approx(expected, rel=1e-5)
