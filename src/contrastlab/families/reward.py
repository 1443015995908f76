"""The reward family: a scalar scorer r(x, y) on a language model (TRL's RewardTrainer), evaluated on held-out pairs:
pref_accuracy = mean[r(x, y_w) > r(x, y_l)] (ties one half), reward_margin = mean gap, and the mean rewards. Its run
folder can score completions (`eval.reward_model`)."""

from __future__ import annotations

from contrastlab.families.language import LanguageFamily, held_out_pairs
from contrastlab.tracking.jobs import ReportColumns


class RewardFamily(LanguageFamily):
    def evaluator(self, ctx, encoding):
        from contrastlab.eval.preference import RewardEvaluator, encode_pairs

        cfg = ctx.cfg
        encoded = encode_pairs(encoding, held_out_pairs(ctx), cfg.train.max_length)
        evaluate = RewardEvaluator(encoded, cfg.eval.batch_size, encoding.tokenizer.pad_token_id)
        return evaluate, f"{len(encoded)} held-out pairs", len(encoded)


FAMILY = RewardFamily(
    name="reward",
    description="reward model",
    primary="pref_accuracy",
    metric_order=("pref_accuracy", "reward_margin", "reward_chosen", "reward_rejected"),
    report=ReportColumns(key=("after/pref_accuracy",), curves=("eval/pref_accuracy",)),
    rank=1,
    head="score",
    lora_task="SEQ_CLS",
    scores_completions=True,
    needs_baseline=False,
)
