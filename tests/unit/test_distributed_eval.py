"""Held-out evaluation and in-batch negatives in two CPU processes (gloo): every process runs its shard of the
items, the same number of model calls, and ends with what one process computes; a 2-process DDP step of a
contrastive model has the loss and gradients of one process with the global batch."""

from __future__ import annotations

import functools
import os

import pytest
import torch
import torch.distributed as dist

from contrastlab.distributed import is_distributed
from contrastlab.eval.embedding import encode
from contrastlab.data.encoding import Encoded
from contrastlab.eval.preference import EncodedPair
from contrastlab.eval.generation import RewardScorer, generate
from contrastlab.eval.preference import PairEvaluator, completion_logps, reward_scores, sequence_logps
from contrastlab.models.embedders import Embedder, minilm_dir
from contrastlab.objectives.losses.infonce import info_nce
from contrastlab.objectives.trainers.embedding import ContrastiveModel, LossHead, TextCollator


def _pair(prompt, chosen, rejected) -> EncodedPair:
    """A held-out pair of one prompt: its chosen and rejected completion ids."""
    return EncodedPair(Encoded(prompt, chosen), Encoded(prompt, rejected))

WORLD = 2
SEED = 11
WORDS = "cats dogs birds fish rivers mountains quietly run the a of over".split()
TEXTS = [" ".join(WORDS[(3 * i + j) % len(WORDS)] for j in range(1 + (5 * i) % 7)) for i in range(7)]
SEQS = [([100 + (7 * i + j) % 900 for j in range(2 + i % 3)], [200 + (11 * i + j) % 800 for j in range(1 + i % 4)])
        for i in range(7)]  # fmt: skip  (prompt ids, completion ids) of 7 sequences of different lengths
PAIRS = [_pair(prompt=p, chosen=c, rejected=c[::-1] + [300 + i]) for i, (p, c) in enumerate(SEQS[:5])]
PROMPTS = [[1000 + 13 * i + j for j in range(2 + i)] for i in range(5)]  # prompt ids, 2..6 tokens
ROWS = [{"anchor": TEXTS[i % 7] + f" {i}", "positive": TEXTS[(i + 1) % 7], "negative": TEXTS[(i + 3) % 7] + " no"}
        for i in range(8)]  # fmt: skip


def _tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir())


def _llama(tokenizer, head: str):
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=64, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.sep_token_id, num_labels=1)  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(config) if head == "score" else LlamaForCausalLM(config)
    return model.eval()


def _embedder(tokenizer) -> Embedder:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    torch.manual_seed(0)
    model = BertModel(config)
    model.pooler.requires_grad_(False)  # not on the embedding path (as `load_embedder` does)
    return Embedder(model, tokenizer, "mean")


def _count_forwards(model) -> list[int]:
    """The batch size of each forward pass of `model` from now on (appended to the returned list)."""
    calls: list[int] = []
    model.register_forward_pre_hook(lambda m, args, kwargs: calls.append(kwargs["input_ids"].shape[0]),
                                    with_kwargs=True)  # fmt: skip
    return calls


def _count_generate(model) -> list[int]:
    """The batch size of each `model.generate` call from now on."""
    calls: list[int] = []
    inner = model.generate

    def counted(**kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return inner(**kwargs)

    model.generate = counted
    return calls


def _evaluate() -> dict:
    """Every evaluation the tests compare and the model calls each made (batch sizes): the same code in one process
    and in each of the spawned ones."""
    tok = _tokenizer()
    lm, rm, embedder = _llama(tok, "causal"), _llama(tok, "score"), _embedder(tok)
    lm_calls, rm_calls, emb_calls = _count_forwards(lm), _count_forwards(rm), _count_forwards(embedder)
    gen_calls = _count_generate(lm)
    out = {"sequence_logps": sequence_logps(lm, SEQS, 2, tok.pad_token_id), "sequence_calls": list(lm_calls)}
    out["completion_logps"] = completion_logps(lm, PAIRS, 2, tok.pad_token_id)
    out["pair_metrics"] = PairEvaluator(PAIRS, 0.1, 2, tok.pad_token_id)(lm)
    out["reward_scores"] = reward_scores(rm, PAIRS, 2, tok.pad_token_id)
    out["reward_calls"] = list(rm_calls)
    out["encode"] = encode(embedder, TEXTS, 2, 16)
    out["encode_calls"] = list(emb_calls)
    rm_calls.clear()
    completions = generate(lm, tok, PROMPTS, max_new_tokens=4, num_samples=2, temperature=1.0, batch_size=2,
                           seed=SEED)  # fmt: skip
    out["generate"] = (completions.greedy, completions.sampled)
    out["generate_calls"] = list(gen_calls)
    out["scorer"] = RewardScorer(rm, tok, chat=False, batch_size=2)(TEXTS[:5], TEXTS[2:7])
    out["scorer_calls"] = list(rm_calls)
    return out


def _contrastive_step(rows: list[dict]) -> tuple[float, dict[str, torch.Tensor]]:
    """Loss and parameter gradients of one step of an InfoNCE model (hard negatives, learnable scale) on `rows`;
    wrapped in DDP when a process group exists."""
    model = ContrastiveModel(_embedder(_tokenizer()),
                             LossHead(functools.partial(info_nce, symmetric=True), 0.05, learn_scale=True))  # fmt: skip
    batch = TextCollator(model.embedder, max_length=16)(rows)
    net = torch.nn.parallel.DistributedDataParallel(model) if is_distributed() else model
    loss = net(**batch)
    loss.backward()
    return loss.item(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def _rank_main(rank: int, store: str, folder: str) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        per = len(ROWS) // WORLD
        results = {**_evaluate(), "contrastive": _contrastive_step(ROWS[rank * per : (rank + 1) * per])}
        torch.save(results, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    """`_evaluate` and a contrastive step on half of the rows, in each of 2 processes."""
    folder = tmp_path_factory.mktemp("ddp")
    torch.multiprocessing.spawn(_rank_main, args=(str(folder / "store"), str(folder)), nprocs=WORLD, join=True)
    return [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


@pytest.fixture(scope="module")
def single() -> dict:
    """`_evaluate` in this process (no process group)."""
    assert not is_distributed()
    return _evaluate()


def _same_calls(ranks: list[dict], single: dict, key: str) -> None:
    """Every rank made the same number of model calls, each on a shard: fewer items than one process."""
    counts = [r[key] for r in ranks]
    assert all(len(c) == len(counts[0]) for c in counts), counts
    assert all(sum(c) < sum(single[key]) for c in counts), (counts, single[key])
    assert sum(map(sum, counts)) >= sum(single[key])  # together they cover every item


def test_sequence_logps_are_gathered_from_equal_shards(ranks, single):
    logps, counts = single["sequence_logps"]
    assert logps.shape == counts.shape == (len(SEQS),)
    for r in ranks:
        torch.testing.assert_close(r["sequence_logps"][0], logps, atol=1e-5, rtol=0)
        assert torch.equal(r["sequence_logps"][1], counts)
    _same_calls(ranks, single, "sequence_calls")
    assert [len(r["sequence_calls"]) for r in ranks] == [2, 2]  # 4 of 7 sequences each (one filler), 2 a pass


def test_completion_logps_and_pair_metrics_match_one_process(ranks, single):
    for r in ranks:
        for got, want in zip(r["completion_logps"], single["completion_logps"]):
            assert got.shape == (len(PAIRS),)
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        assert r["pair_metrics"] == pytest.approx(single["pair_metrics"], abs=1e-5)


def test_reward_scores_match_one_process(ranks, single):
    for r in ranks:
        for got, want in zip(r["reward_scores"], single["reward_scores"]):
            assert got.shape == (len(PAIRS),)
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        torch.testing.assert_close(r["scorer"], single["scorer"], atol=1e-5, rtol=0)
    _same_calls(ranks, single, "reward_calls")
    _same_calls(ranks, single, "scorer_calls")


def test_embeddings_come_back_in_the_original_order(ranks, single):
    assert single["encode"].shape == (len(TEXTS), 32)
    for r in ranks:
        torch.testing.assert_close(r["encode"], single["encode"], atol=1e-5, rtol=0)
    _same_calls(ranks, single, "encode_calls")


def test_generation_is_gathered_in_prompt_order_and_seeded_by_global_index(ranks, single):
    greedy, sampled = single["generate"]
    assert len(greedy) == len(sampled) == len(PROMPTS)
    for r in ranks:
        assert r["generate"][0] == greedy
        assert r["generate"] == ranks[0]["generate"]
        assert [len(s) for s in r["generate"][1]] == [2] * len(PROMPTS)
    _same_calls(ranks, single, "generate_calls")
    # rank 0 writes prompts 0-2 in batches [0, 1] and [2], rank 1 prompts 3-4 in [3, 4] (and a filler): each batch
    # is sampled with the seed plus its first prompt's index, as one process writing that batch alone would
    tok = _tokenizer()
    lm = _llama(tok, "causal")
    expected = []
    for start, stop in [(0, 2), (2, 3), (3, 5)]:
        expected += generate(lm, tok, PROMPTS[start:stop], 4, 2, 1.0, 2, SEED + start).sampled
    assert ranks[0]["generate"][1] == expected
    assert sampled[:2] == expected[:2]  # the first batch is the same in one process


def test_ddp_step_equals_one_process_with_the_global_batch(ranks):
    loss, grads = _contrastive_step(ROWS)
    assert "head.log_scale" in grads and "embedder.model.embeddings.word_embeddings.weight" in grads
    half, _ = _contrastive_step(ROWS[: len(ROWS) // 2])
    assert abs(half - loss) > 1e-3  # a process's half of the batch alone has another loss
    for r in ranks:
        got_loss, got = r["contrastive"]
        assert got_loss == pytest.approx(loss, abs=1e-5)
        assert set(got) == set(grads)
        for name, grad in grads.items():
            torch.testing.assert_close(got[name], grad, atol=1e-5, rtol=1e-4, msg=name)
