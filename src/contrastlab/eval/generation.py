"""Generation evaluation: what a policy writes for held-out prompts, what a reward model thinks of it, and what
it cost in divergence from the reference (the DPO paper's reward-versus-KL frontier, arXiv:2305.18290, Fig. 2).

For each of P held-out prompts x the policy pi and the reference pi_ref (the initial policy) each write a greedy
completion and S sampled ones (temperature `temperature`, no top-k or top-p). With a reward model r:
  gen_reward         mean r(x, y) over the S samples of each prompt   (the frontier's y; `before/` = the reference's)
  gen_reward_greedy  mean r(x, y) of the greedy completions
  gen_win_rate       mean[r(x, y_greedy) > r(x, y_ref_greedy)] on the same prompts (ties count one half)
Always:
  gen_kl             mean over samples y ~ pi of log pi(y|x) - log pi_ref(y|x): the Monte-Carlo estimate of the
                     sequence-level KL(pi || pi_ref) (unbiased at temperature 1; the frontier's x)
  gen_length         mean tokens of the sampled completions
The reference's samples are drawn with the same seed as the policy's, so an untrained policy writes exactly the
reference's completions: KL 0, win rate 0.5.

In several processes each process generates for (and scores) its `shard` of the prompts, every process gets all
of them back; the samples are then seeded per batch of each shard, so they depend on the number of processes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from contrastlab.data.encoding import Encoding, plain
from contrastlab.distributed import gather, gather_tensor, is_main, shard, shard_start
from contrastlab.eval.preference import _win_rate, _wins, sequence_logps


def prompt_ids(tokenizer, prompts: list, chat: bool, max_length: int, system: str | None = None) -> list[list[int]]:
    """Token ids of each prompt as the policy saw prompts in training (the one encoding's prompt: the chat template
    with the generation prompt, or the text with the tokenizer's special tokens), cut to `max_length` tokens
    (keeping the start, TRL's `keep_start` rule)."""
    encoding = Encoding(tokenizer, chat, system)
    return [encoding.prompt(prompt if chat else plain(prompt))[:max_length] for prompt in prompts]


def prompt_id(ids: list[int]) -> str:
    """A short hash of a prompt's token ids: two runs generated for the same prompt when their ids agree."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps(ids).encode()).hexdigest()[:12]


def held_out_prompts(records, n: int) -> list:
    """The first `n` distinct prompts of the held-out records' sequences (already a seeded sample), in order."""
    seen, out = set(), []
    for prompt in (prompt for record in records for prompt in record.prompts()):
        key = repr(prompt)
        if key not in seen:
            seen.add(key)
            out.append(prompt)
        if len(out) == n:
            break
    return out


@contextlib.contextmanager
def adapter_off(model):
    """`with adapter_off(policy) as reference:` the policy with its LoRA adapter switched off (the reference)."""
    with model.disable_adapter():
        yield model


@dataclass
class Completions:
    """Completion token ids (each cut after its first end token) for P prompts: greedy (P,) and sampled (P, S)."""

    greedy: list[list[int]]
    sampled: list[list[list[int]]]


def _stop_ids(model, tokenizer) -> list[int]:
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _cut(ids: list[int], stop: set[int]) -> list[int]:
    """Up to and including the first end token (the rest is padding)."""
    for i, token in enumerate(ids):
        if token in stop:
            return ids[: i + 1]
    return ids


@torch.no_grad()
def generate(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, num_samples: int, temperature: float,
             batch_size: int, seed: int, desc: str = "generate", synced_gpus: bool = False,
             greedy_too: bool = True) -> Completions:  # fmt: skip
    """Greedy and sampled completions of `model` for prompt ids; sampling is seeded with `seed` plus the index of the
    batch's first prompt, so two models with the same weights write the same samples. Several processes: each
    generates for its shard of the prompts (the same number of `model.generate` calls), all get every prompt's.

    `synced_gpus`: every process runs each generation step until all of them are done, as sharded weights (FSDP,
    ZeRO-3) need, since each step's forward gathers them from all processes. transformers turns it on by itself only
    for DeepSpeed ZeRO-3 and FSDP1, not for accelerate's FSDP2 (fully_shard), so it is passed explicitly; without it
    a process whose completions end first would leave the others waiting in their gather (only a run on several
    GPUs can show that)."""
    from transformers import GenerationConfig

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    stop = _stop_ids(model, tokenizer)
    stops = set(stop)
    pad = tokenizer.pad_token_id
    synced = {"synced_gpus": True} if synced_gpus else {}
    common = {"max_new_tokens": max_new_tokens, "eos_token_id": stop, "pad_token_id": pad, "use_cache": True,
              "repetition_penalty": 1.0, "no_repeat_ngram_size": 0}  # set: a model's own defaults would fill them
    greedy_cfg = GenerationConfig(do_sample=False, **common)
    sample_cfg = GenerationConfig(do_sample=True, temperature=temperature, top_k=0, top_p=1.0, typical_p=1.0,
                                  num_return_sequences=max(num_samples, 1), **common)  # fmt: skip
    local, offset = shard(prompts), shard_start(len(prompts))
    greedy, sampled = [], []
    for start in tqdm(range(0, len(local), batch_size), desc=desc, leave=False, disable=not is_main()):
        batch = local[start : start + batch_size]
        width = max(len(p) for p in batch)  # left padding: every prompt ends where generation starts
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=device)
        if greedy_too:  # (on-policy training samples only)
            out = model.generate(input_ids=ids, attention_mask=mask, generation_config=greedy_cfg, **synced)
            greedy += [_cut(row[width:].tolist(), stops) for row in out]
        if num_samples > 0:
            torch.manual_seed(seed + offset + start)
            out = model.generate(input_ids=ids, attention_mask=mask, generation_config=sample_cfg, **synced)
            rows = [_cut(row[width:].tolist(), stops) for row in out]  # (B * S,), prompt-major
            sampled += [rows[i * num_samples : (i + 1) * num_samples] for i in range(len(batch))]
        else:
            sampled += [[] for _ in batch]
    model.train(was_training)
    return Completions(gather(greedy, len(prompts)), gather(sampled, len(prompts)))


@dataclass
class RewardScorer:
    """A scalar reward model (an `objective=reward` run) and how it reads a prompt and a completion: through its
    tokenizer's chat template when it was trained on conversations, else prompt + completion + EOS (as TRL's
    RewardTrainer builds its inputs)."""

    model: object
    tokenizer: object
    chat: bool
    system: str | None = None  # the reward run's model.system_prompt
    batch_size: int = 8

    def _ids(self, prompt, completion: str) -> list[int]:
        return Encoding(self.tokenizer, self.chat, self.system).sequence(prompt if self.chat else plain(prompt), completion)

    @torch.no_grad()
    def __call__(self, prompts: list, completions: list[str], desc: str = "reward") -> torch.Tensor:
        """r(x, y) for each (prompt, completion text): shape (N,). Several processes: each scores its shard."""
        from contrastlab.eval.preference import _pad

        self.model.eval()
        device = next(self.model.parameters()).device
        pairs = list(zip(prompts, completions))
        seqs = [self._ids(p, c) for p, c in shard(pairs)]
        scores = []
        for start in tqdm(range(0, len(seqs), self.batch_size), desc=desc, leave=False, disable=not is_main()):
            ids, mask = _pad(seqs[start : start + self.batch_size], self.tokenizer.pad_token_id)
            scores.append(self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[:, 0].float().cpu())
        return gather_tensor(torch.cat(scores), len(pairs)) if scores else torch.zeros(0)


@dataclass
class GenerationEvaluator:
    """Generates with a policy and its reference for the same prompts and measures the module docstring's metrics.

    `reference` is a context manager factory: `with reference() as ref_model:` yields the reference policy (the
    policy with its LoRA adapter switched off, or a frozen copy of the initial weights)."""

    tokenizer: object
    prompts: list  # prompt texts (or message lists)
    chat: bool
    max_length: int
    max_new_tokens: int = 48
    num_samples: int = 4
    temperature: float = 1.0
    batch_size: int = 8
    seed: int = 0
    scorer: RewardScorer | None = None
    synced_gpus: bool = False  # sharded weights on several GPUs (see `generate`)
    system: str | None = None  # model.system_prompt
    samples: list[dict] = field(default_factory=list)  # one row per prompt, filled by __call__
    examples: dict = field(default_factory=dict)  # per prompt: the after/ metrics' values ("id" first)
    examples_before: dict = field(default_factory=dict)  # per prompt: the reference's (before/) values

    def __post_init__(self):
        self.ids = prompt_ids(self.tokenizer, self.prompts, self.chat, self.max_length, self.system)

    def _generate(self, model, desc: str) -> Completions:
        return generate(model, self.tokenizer, self.ids, self.max_new_tokens, self.num_samples, self.temperature,
                        self.batch_size, self.seed, desc, self.synced_gpus)  # fmt: skip

    def _text(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def __call__(self, policy, reference) -> dict[str, float]:
        """`before/` (the reference's) and `after/` (the policy's) metrics."""
        mine = self._generate(policy, "generate (policy)")
        pairs = [(p, y) for p, ys in zip(self.ids, mine.sampled) for y in ys]
        pad = self.tokenizer.pad_token_id
        with reference() as ref_model:
            theirs = self._generate(ref_model, "generate (reference)")
            if pairs:
                ref_logps = sequence_logps(ref_model, pairs, self.batch_size, pad, "KL (reference)")[0]
        after, before = {}, {}
        if pairs:
            logps, lengths = sequence_logps(policy, pairs, self.batch_size, pad, "KL (policy)")
            after["gen_kl"] = (logps - ref_logps).mean().item()
            after["gen_length"] = lengths.float().mean().item()
            before["gen_length"] = sum(len(y) for ys in theirs.sampled for y in ys) / len(pairs)
        self.samples = [{"prompt": plain(p), "policy": self._text(g), "reference": self._text(r),
                         "policy_samples": [{"text": self._text(y)} for y in ys],
                         "reference_samples": [{"text": self._text(y)} for y in ts]}
                        for p, g, r, ys, ts in zip(self.prompts, mine.greedy, theirs.greedy, mine.sampled,
                                                   theirs.sampled)]  # fmt: skip
        ids = [prompt_id(ids) for ids in self.ids]
        self.examples, self.examples_before = {"id": ids}, {"id": ids}
        if pairs:
            per_prompt = [len(ys) for ys in mine.sampled]
            log_ratio = (logps - ref_logps).split(per_prompt)
            for row, lr in zip(self.samples, log_ratio):
                row["log_ratio"] = lr.mean().item() if len(lr) else float("nan")
                for sample, value in zip(row["policy_samples"], lr.tolist()):
                    sample["log_ratio"] = value  # log pi(y|x) - log ref(y|x), the KL estimate's term
            self.examples["gen_kl"] = [lr.mean().item() for lr in log_ratio]
            self.examples["gen_length"] = [length.float().mean().item() for length in lengths.split(per_prompt)]
            self.examples_before["gen_length"] = [sum(len(y) for y in ts) / len(ts) for ts in theirs.sampled]
        if self.scorer is not None:
            after.update(self._rewards(mine, theirs, before))
        return {**{f"before/{k}": v for k, v in before.items()}, **{f"after/{k}": v for k, v in after.items()}}

    def _rewards(self, mine: Completions, theirs: Completions, before: dict) -> dict[str, float]:
        score = self.scorer
        greedy = score(self.prompts, [self._text(y) for y in mine.greedy], "reward (policy)")
        ref_greedy = score(self.prompts, [self._text(y) for y in theirs.greedy], "reward (reference)")
        after = {"gen_reward_greedy": greedy.mean().item(), "gen_win_rate": _win_rate(greedy - ref_greedy)}
        before["gen_reward_greedy"] = ref_greedy.mean().item()
        for row, r, rr in zip(self.samples, greedy.tolist(), ref_greedy.tolist()):
            row["reward_policy"], row["reward_reference"] = r, rr
        self.examples["gen_reward_greedy"] = greedy.tolist()
        self.examples_before["gen_reward_greedy"] = ref_greedy.tolist()
        self.examples["gen_win_rate"] = _wins(greedy - ref_greedy).tolist()
        if self.num_samples > 0:
            prompts = [p for p in self.prompts for _ in range(self.num_samples)]  # both write num_samples a prompt
            rewards = score(prompts, [self._text(y) for ys in mine.sampled for y in ys])
            ref_texts = [self._text(y) for ys in theirs.sampled for y in ys]
            ref_rewards = score(prompts, ref_texts, "reward (reference samples)")
            after["gen_reward"], before["gen_reward"] = rewards.mean().item(), ref_rewards.mean().item()
            for key, side, values in (("policy_samples", self.examples, rewards), ("reference_samples",
                                      self.examples_before, ref_rewards)):  # fmt: skip
                per_prompt = values.view(len(self.prompts), self.num_samples)
                for row, row_values in zip(self.samples, per_prompt.tolist()):
                    for sample, value in zip(row[key], row_values):
                        sample["reward"] = value
                side["gen_reward"] = per_prompt.mean(1).tolist()
        return after
