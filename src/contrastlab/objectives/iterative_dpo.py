"""Iterative DPO: rejection-sampled DPO in rounds (RS-DPO's recipe), ours, on the run's reward (`reward=...`).

Each of `rounds` rounds samples `num_samples` completions of `prompts_per_round` prompts from the current policy,
scores them, keeps every pair whose reward gap exceeds `min_gap` (the higher-reward one chosen), and trains the
sigmoid DPO loss -log sigma(beta (log-ratio(chosen) - log-ratio(rejected))) on them for its share of
`train.max_steps`, with the policy at the round's start as the reference (`trainers.rounds`). One round is DPO on
pairs of the initial policy's samples; later rounds are on-policy for the policy they start from.
Khaki et al. 2024, "RS-DPO: A Hybrid Rejection Sampling and Direct Preference Optimization Method for Alignment of
Large Language Models", https://arxiv.org/abs/2402.10038; Xiong et al. 2024 (iterative DPO), arXiv:2312.11456
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.records.prompt import Prompt
from contrastlab.objectives.base import Needs, ObjectiveConfig, ObjectiveSpec


@dataclass
class IterativeDPOConfig(ObjectiveConfig):
    """Iterative (rejection-sampled) DPO."""

    rounds: int = 2  # sample-score-train rounds; train.max_steps is split among them
    num_samples: int = 4  # k: completions sampled per prompt each round
    prompts_per_round: int = 16  # training prompts sampled each round (seeded)
    min_gap: float = 0.05  # a pair is kept when its reward gap exceeds this (RS-DPO's eta)
    max_completion_length: int = 32  # tokens a sampled completion has at most
    temperature: float = 1.0  # sampling temperature


def check(cfg):
    if cfg.rounds < 1 or cfg.prompts_per_round < 1:
        return "objective.rounds and objective.prompts_per_round must be at least 1"
    if cfg.num_samples < 2:
        return f"objective.num_samples={cfg.num_samples}: a pair needs at least 2 samples of a prompt"
    if cfg.min_gap < 0 or cfg.max_completion_length < 1 or cfg.temperature <= 0:
        return "objective.min_gap must be at least 0, max_completion_length at least 1, temperature positive"
    return None


def check_run(cfg):
    steps, rounds = cfg.train.max_steps, cfg.objective.rounds
    if steps == -1 or steps < rounds:
        return (f"objective=iterative_dpo splits train.max_steps among objective.rounds={rounds} rounds: give "
                f"train.max_steps of at least {rounds} (not -1, epochs: each round's pairs are sampled afresh)")
    return None


@dataclass(frozen=True, kw_only=True)
class IterativeDPO(ObjectiveSpec):
    def build_trainer(self, ctx):
        import transformers

        from contrastlab.data.encoding import Encoding
        from contrastlab.eval.generation import prompt_ids
        from contrastlab.models.loading import lora_config
        from contrastlab.objectives.losses.pairwise import dpo_sigmoid
        from contrastlab.objectives.trainers.preference import SequenceLoss, pair_metrics
        from contrastlab.objectives.trainers.rounds import RoundData, RoundsTrainer
        from contrastlab.objectives.trainers.sequences import SequenceCollator, sequence_rows
        from contrastlab.objectives.trainers.trl_glue import shared_args
        from contrastlab.rewards import build_for_run

        cfg, train, o = ctx.cfg, ctx.cfg.train, ctx.cfg.objective
        prompts = [p for record in ctx.records for p in record.prompts()]
        encoding = Encoding(ctx.tokenizer, ctx.chat, cfg.model.system_prompt)
        data = RoundData(
            prompts=prompts, reward=build_for_run(cfg, ctx.tokenizer, ctx.hardware, cfg.eval.batch_size),
            encode=lambda pairs: sequence_rows(pairs, encoding, train.max_length, train.seed),
            prompt_ids=lambda ps: prompt_ids(ctx.tokenizer, ps, ctx.chat, train.max_length, cfg.model.system_prompt),
            tokenizer=ctx.tokenizer, run_dir=ctx.run_dir, seed=train.seed, prompts_per_round=o.prompts_per_round,
            num_samples=o.num_samples, max_new_tokens=o.max_completion_length, temperature=o.temperature,
            min_gap=o.min_gap, batch_size=cfg.eval.batch_size, runlog=ctx.runlog,
        )  # fmt: skip
        model, peft = ctx.model, lora_config(cfg.model, ctx.lora_task)
        if peft is not None:
            from peft import get_peft_model

            transformers.set_seed(train.seed)
            model = get_peft_model(model, peft)
        args = shared_args(train, ctx.hardware, ctx.checkpoints, len(prompts), ctx.hidden_size)
        args.pop("max_length")
        args.setdefault("gradient_checkpointing", True)
        beta = float(o.beta)

        def fn(batch):
            return dpo_sigmoid(batch.logratios[:, 0], batch.logratios[:, 1], beta).mean(), pair_metrics(batch, beta)

        trainer = RoundsTrainer(
            model=model,
            args=transformers.TrainingArguments(**args, remove_unused_columns=False, ignore_data_skip=True),
            data_collator=SequenceCollator(ctx.tokenizer.pad_token_id, train.max_length),
            callbacks=ctx.callbacks, loss=SequenceLoss(fn), round_data=data, rounds=o.rounds,
        )  # fmt: skip
        return trainer, len(prompts)


SPEC = IterativeDPO(
    name="iterative_dpo",
    schema=IterativeDPOConfig,
    record=Prompt,
    family="policy",
    summary="rejection-sampled DPO in rounds: each round's pairs sampled from the policy it starts from (reward=)",
    paper="Khaki et al. 2024, arXiv:2402.10038",
    needs=lambda cfg: Needs(reward=True, reference=True),
    check=check,
    check_run=check_run,
)
