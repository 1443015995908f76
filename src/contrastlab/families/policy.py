"""The policy family: a language model trained on preferences, evaluated against its initial self as reference.

Held-out pairs (`eval.preference`): with the implicit reward r = beta (log pi - log pi_ref), beta the objective's
`reward_scale`: pref_accuracy, reward_margin, rank_accuracy (no reference), the log-probs, and per-attribute accuracy
for multi-attribute data. With `eval.generate`: what the trained policy and its reference write for held-out prompts,
scored by a reward model run (`eval.reward_model`, trained first from `eval.reward_recipe` by the plan), and the KL
between them (`eval.generation`); the samples go to samples.jsonl and a W&B table.
"""

from __future__ import annotations

import os
from pathlib import Path

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.errors import UserError
from contrastlab.families.language import LanguageFamily, LanguageSession, held_out_pairs
from contrastlab.tracking.jobs import ReportColumns


def reward_run_problem(path: str) -> str | None:
    """Why the folder at `path` cannot serve as a reward model (a finished run of a family that scores completions),
    or None."""
    from omegaconf import OmegaConf

    from contrastlab.families import get
    from contrastlab.objectives import discover

    folder = Path(path)
    config = folder / ".hydra" / "config.yaml"
    if not config.is_file():
        return (f"eval.reward_model={path} is not a run folder (no .hydra/config.yaml): give the folder of an "
                "objective=reward run")
    name = OmegaConf.load(config).get("objective", {}).get("name")
    spec = discover().get(name)
    if spec is None or not get(spec.family).scores_completions:
        return f"eval.reward_model={path} is a run of objective={name}: give the folder of an objective=reward run"
    if not (folder / "model").is_dir():
        return (f"eval.reward_model={path} has no model/ folder (the run did not finish, or ran with "
                "save_model=false): train it again, or give another reward run")
    return None


class PolicyFamily(LanguageFamily):
    def check(self, cfg, objective) -> None:
        super().check(cfg, objective)
        e = cfg.eval
        if e.preference_probability is not None and not 0.5 < e.preference_probability < 1:
            raise UserError(f"eval.preference_probability={e.preference_probability} is the probability that the "
                            "chosen completion is preferred: give a value in (0.5, 1)")
        if not e.generate:
            return
        if e.num_prompts < 1 or e.max_new_tokens < 1 or e.num_samples < 0:
            raise UserError(f"eval.num_prompts={e.num_prompts} and eval.max_new_tokens={e.max_new_tokens} must be at "
                            f"least 1, eval.num_samples={e.num_samples} at least 0")
        if e.temperature <= 0:
            raise UserError(f"eval.temperature={e.temperature} must be positive (the greedy completion is always made)")
        if e.reward_recipe and not e.reward_model:
            raise UserError("eval.reward_recipe trains a reward model but eval.reward_model (the folder to train it "
                            "into) is empty: set eval.reward_model=PATH")
        if e.reward_model and not (e.reward_recipe and not os.path.exists(e.reward_model)):
            problem = reward_run_problem(e.reward_model)
            if problem:
                raise UserError(problem)

    def evaluator(self, ctx, encoding):
        import math

        import torch

        from contrastlab.eval.preference import PairEvaluator, encode_pairs

        cfg, pairs, tokenizer = ctx.cfg, held_out_pairs(ctx), encoding.tokenizer
        if not pairs and ctx.eval_records and not ctx.eval_records[0].sequences():  # prompts alone: nothing to score
            about = "no held-out pairs or completions (prompts only)"
            return (lambda model, desc="eval": {}), about + ("" if cfg.eval.generate else ": eval.generate=true "
                                                               "measures what the policy writes for them"), 0
        if not pairs and ctx.eval_records:  # demonstrations (objective=sft on prompt/completion data): likelihoods
            from contrastlab.eval.unlearning import UnlearningEvaluator, encode_examples

            encoded = encode_examples(encoding, ctx.eval_records, cfg.train.max_length)
            evaluate = UnlearningEvaluator({"heldout": encoded}, cfg.eval.batch_size, tokenizer.pad_token_id)
            return (evaluate, f"{len(encoded)} held-out completions (their log-likelihood; no pairs to rank)",
                    len(encoded))  # fmt: skip
        kind = type(pairs[0]) if pairs else PreferencePair
        margins = {name: torch.tensor(values) for name, values in kind.attribute_margins(pairs).items()}
        encoded = encode_pairs(encoding, pairs, cfg.train.max_length)
        beta = ctx.objective.reward_scale(cfg.objective)
        log_odds = kind.preference_log_odds(pairs)
        if log_odds is None and cfg.eval.preference_probability is not None:
            a = cfg.eval.preference_probability
            log_odds = [math.log(a / (1 - a))] * len(pairs)
        odds = torch.tensor(log_odds, dtype=torch.float32) if log_odds is not None else None
        evaluate = PairEvaluator(encoded, beta, cfg.eval.batch_size, tokenizer.pad_token_id, margins, odds)
        return evaluate, f"{len(encoded)} held-out pairs, against the initial policy as reference", len(encoded)

    def session(self, ctx) -> "PolicySession":
        return PolicySession(self, ctx)


class PolicySession(LanguageSession):
    def measure(self, model, runlog, step: int) -> dict[str, float]:
        metrics = {}
        if self.ctx.cfg.eval.generate:
            metrics, about = self.generate(model, runlog)
            runlog.log(step, {f"eval/{k.split('/', 1)[1]}": v for k, v in metrics.items() if k.startswith("after/")})
            self.described = f"{self.described}; {about}"
        return metrics

    def generate(self, model, runlog) -> tuple[dict[str, float], str]:
        """Completions of the trained policy and of its reference for held-out prompts, scored by the reward model
        when there is one: (metrics, a line saying what was measured). The samples go to samples.jsonl and W&B."""
        from contrastlab.distributed import is_main
        from contrastlab.eval.generation import GenerationEvaluator, RewardScorer, adapter_off, held_out_prompts
        from contrastlab.models.loading import load_reward_model
        from contrastlab.models.precision import compute
        from contrastlab.rewards import build_for_run
        from contrastlab.tracking.examples import intervals, write_examples
        from contrastlab.tracking.run_folder import write_jsonl

        cfg, e = self.ctx.cfg, self.ctx.cfg.eval
        scorer, scored = None, "no reward (eval.reward_model or reward=)"
        if e.reward_model:
            scorer = RewardScorer(*load_reward_model(e.reward_model, self.ctx.hardware), batch_size=e.batch_size)
            scored = f"scored by {e.reward_model}"
        else:
            reward = build_for_run(cfg, self.tokenizer, self.ctx.hardware, e.batch_size)
            if reward is not None:
                scorer, scored = reward.tensor, f"scored by {reward.label}"

        hw = self.ctx.hardware
        prompts = held_out_prompts(self.ctx.eval_records, e.num_prompts)
        evaluator = GenerationEvaluator(self.tokenizer, prompts, self.chat, cfg.train.max_length, e.max_new_tokens,
                                        e.num_samples, e.temperature, e.batch_size, cfg.train.seed, scorer,
                                        synced_gpus=hw.num_processes > 1 and hw.strategy in ("fsdp", "deepspeed"),
                                        system=cfg.model.system_prompt)
        with compute(hw):  # every process generates for its share of the prompts
            metrics = evaluator(model, (lambda: adapter_off(model)) if hasattr(model, "disable_adapter")
                                else self.reference)  # fmt: skip
        seed, resamples = cfg.train.seed, e.bootstrap
        for stage, examples, file in (("after", evaluator.examples, "generation"),
                                      ("before", evaluator.examples_before, "generation_before")):  # fmt: skip
            metrics.update(intervals(stage, metrics, examples, resamples, seed))
            if is_main():
                write_examples(self.ctx.run_dir, file, examples)
        if is_main():
            write_jsonl(self.ctx.run_dir / "samples.jsonl", evaluator.samples)
        runlog.table("gen/samples", evaluator.samples)
        about = (f"generation: {len(prompts)} prompts, greedy + {e.num_samples} samples each (temperature "
                 f"{e.temperature}, <= {e.max_new_tokens} tokens), {scored}; before = the reference policy")
        return metrics, about


FAMILY = PolicyFamily(
    name="policy",
    description="policy",
    primary="pref_accuracy",
    metric_order=("pref_accuracy", "reward_margin", "rank_accuracy", "ideal_rank_accuracy", "logp_chosen",
                  "logp_rejected", "chosen_shift", "displaced", "ches", "gen_reward",
                  "gen_win_rate", "gen_kl", "gen_reward_greedy", "gen_length"),
    report=ReportColumns(key=("after/pref_accuracy", "after/gen_reward", "after/gen_win_rate", "after/gen_kl"),
                         reference=("before/gen_reward",), curves=("eval/pref_accuracy",),
                         frontier=("after/gen_kl", "after/gen_reward", "before/gen_reward")),
    rank=0,
    generates=True,
)
