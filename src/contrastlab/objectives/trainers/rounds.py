"""Iterative DPO's rounds on our PreferenceTrainer: each round the current policy samples, the reward picks pairs,
and the round trains on them against the policy it started from.

`train.max_steps` optimizer steps are split into `rounds` rounds (the last takes the remainder). At the first step
of round r, `RoundData.rows(r)` draws `prompts_per_round` training prompts (seeded by train.seed and r), samples
`num_samples` completions of each from the current policy (`eval.generation.generate`, seeded likewise), scores
them with the run's reward, and keeps every pair (i, j) of one prompt with r_i - r_j > `min_gap` (i chosen; RS-DPO's
rule); the reference log-probs of those pairs are the current policy's, computed once (so the round's reference is
the policy it starts from). The round's pairs and their reference log-probs are written to
`rounds/round-<r>.jsonl` before its first step: a resume inside the round reads them back instead of sampling from a
policy that no longer exists, so a killed and resumed run trains on the same pairs as an uninterrupted one.

The loader yields the round's rows in a seeded order, cycled to the round's micro-batches; each of several processes
takes its slice of every global batch. transformers' own data skipping is off (`ignore_data_skip`): the loader
starts from the trainer's step.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


from contrastlab.distributed import is_main, rank, world_size
from contrastlab.objectives.trainers.preference import PreferenceTrainer

FOLDER = "rounds"


def round_steps(max_steps: int, rounds: int) -> list[int]:
    """The optimizer steps of each round: max_steps // rounds, the last round also the remainder."""
    base = max_steps // rounds
    return [base] * (rounds - 1) + [max_steps - base * (rounds - 1)]


@dataclass
class RoundData:
    """What a round is made from (see the module docstring)."""

    prompts: list  # the training prompts (texts or message lists)
    reward: Callable[[list, list], list]  # (prompt texts, completion texts) -> one float each
    encode: Callable[[list], list[dict]]  # PreferencePair records -> sequence rows {"ids", "starts"}
    prompt_ids: Callable[[list], list[list[int]]]  # prompts -> generation prompt ids
    tokenizer: Any
    run_dir: Path
    seed: int
    prompts_per_round: int
    num_samples: int
    max_new_tokens: int
    temperature: float
    min_gap: float
    batch_size: int  # generation and reference batch size
    runlog: Any = None  # tracking.run_folder.RunLog: the round's pairs as the W&B table train/round_pairs
    info: dict = field(default_factory=dict)  # round -> its numbers (logged with the round's steps)

    def path(self, r: int) -> Path:
        return self.run_dir / FOLDER / f"round-{r}.jsonl"

    def rows(self, r: int, trainer) -> list[dict]:
        """Round r's rows, each with `ref_logps`: read back when the round's file exists, else sampled now."""
        path = self.path(r)
        if path.is_file():
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            self.info[r] = lines[0]["round"]
            return [line["row"] for line in lines[1:]]
        from contrastlab.data.encoding import plain
        from contrastlab.data.records.preference_pair import PreferencePair
        from contrastlab.eval.generation import generate

        model = trainer.accelerator.unwrap_model(trainer.model)
        picked = random.Random(self.seed * 1000 + r).sample(self.prompts, min(self.prompts_per_round, len(self.prompts)))
        done = generate(model, self.tokenizer, self.prompt_ids(picked), self.max_new_tokens, self.num_samples,
                        self.temperature, self.batch_size, self.seed * 1000 + r, f"round {r}: sample",
                        greedy_too=False)  # fmt: skip
        pairs, scores, kept = [], [], []
        for prompt, samples in zip(picked, done.sampled):
            texts = [self.tokenizer.decode(ids, skip_special_tokens=True) for ids in samples]
            values = self.reward([plain(prompt)] * len(texts), texts)
            scores += values
            for i, j in ((i, j) for i in range(len(texts)) for j in range(len(texts)) if i != j):
                if values[i] - values[j] > self.min_gap and texts[i] != texts[j]:
                    pairs.append(PreferencePair(prompt=prompt, chosen=texts[i], rejected=texts[j], group=repr(prompt)))
                    kept.append({"prompt": plain(prompt), "chosen": texts[i], "rejected": texts[j],
                                 "reward_chosen": values[i], "reward_rejected": values[j]})  # fmt: skip
        encoded = [self.encode([pair]) for pair in pairs]  # [] for a pair whose prompt fills train.max_length
        rows = [row for one in encoded for row in one]
        kept = [pair for pair, one in zip(kept, encoded) if one]  # the file's records line up with the rows
        if not rows:
            from contrastlab.errors import UserError

            raise UserError(f"iterative_dpo round {r}: no two samples of a prompt differ in reward by more than "
                            f"objective.min_gap={self.min_gap} (rewards of the round: {min(scores):.4g} to "
                            f"{max(scores):.4g}): lower objective.min_gap or raise objective.num_samples")
        for row, logps in zip(rows, trainer.row_logps(rows, len(rows), self.batch_size, trainer.policy_logps,
                                                      f"round {r}: reference log-probs")):  # fmt: skip
            row["ref_logps"] = logps
        info = {"round": r, "prompts": len(picked), "samples": len(scores), "pairs": len(rows),
                "reward_mean": sum(scores) / len(scores)}  # fmt: skip
        self.info[r] = info
        if is_main():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w") as fh:
                fh.write(json.dumps({"round": info}) + "\n")
                fh.writelines(json.dumps({"row": row, "pair": pair}) + "\n" for row, pair in zip(rows, kept))
            os.replace(tmp, path)
            if self.runlog is not None:
                self.runlog.table("train/round_pairs", [{"round": r, **pair} for pair in kept])
        return rows


class RoundLoader:
    """The micro-batches of every round from the trainer's current step on (no length: max_steps ends it)."""

    def __init__(self, trainer: "RoundsTrainer"):
        self.trainer = trainer

    def __iter__(self):
        trainer, data = self.trainer, self.trainer.round_data
        args = trainer.args
        steps = round_steps(args.max_steps, trainer.rounds)
        done = trainer.state.global_step
        width, me, size = world_size(), rank(), args.per_device_train_batch_size
        first = 0
        for r, count in enumerate(steps):
            if done >= first + count:
                first += count
                continue
            trainer.current_round = r
            rows = data.rows(r, trainer)
            micro = count * args.gradient_accumulation_steps
            order = []
            shuffle = random.Random(data.seed * 1000 + r)
            while len(order) < micro * size * width:
                block = list(range(len(rows)))
                shuffle.shuffle(block)
                order += block
            skip = (max(done, first) - first) * args.gradient_accumulation_steps
            for m in range(skip, micro):
                chunk = order[(m * width + me) * size : (m * width + me + 1) * size]
                yield trainer.data_collator([rows[i] for i in chunk])
            first += count


class RoundsTrainer(PreferenceTrainer):
    """Our PreferenceTrainer reading its batches round by round (`RoundLoader`); the reference log-probs come with
    the rows (the policy at the round's start), so no reference model is kept."""

    def __init__(self, *args, round_data: RoundData, rounds: int, **kwargs):
        super().__init__(*args, uses_reference=True, **kwargs)
        self.round_data, self.rounds, self.current_round = round_data, rounds, 0

    def get_train_dataloader(self):
        return RoundLoader(self)

    def log(self, logs: dict, start_time=None) -> None:
        if "loss" in logs:
            info = self.round_data.info.get(self.current_round, {})
            logs = {**logs, **{f"round/{k}": v for k, v in info.items()}}
        super().log(logs, start_time)
