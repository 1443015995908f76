"""The unlearning family: a language model made to forget a forget set while it keeps a retain set (NPO, SimNPO).

Evaluated on three sets against the initial policy: `forget` (every forget record), `retain` (retain records the
retain loss trains on, as many as are held out) and `heldout` (retain records of groups never trained on); see
`eval.unlearning`. Its records are `Forget` records (`forgotten` says which set a record is in).
"""

from __future__ import annotations

from contrastlab.families.language import LanguageFamily
from contrastlab.tracking.jobs import ReportColumns


class UnlearningFamily(LanguageFamily):
    def evaluator(self, ctx, encoding):
        from contrastlab.eval.unlearning import UnlearningEvaluator, encode_examples

        cfg = ctx.cfg
        held_out = [r for r in ctx.eval_records if not r.forgotten]
        sets = {"forget": [r for r in ctx.eval_records if r.forgotten],
                "retain": [r for r in ctx.train_records if not r.forgotten][: max(len(held_out), 1)],
                "heldout": held_out}  # fmt: skip
        encoded = {name: encode_examples(encoding, records, cfg.train.max_length) for name, records in sets.items()}
        counts = ", ".join(f"{len(v)} {k}" for k, v in encoded.items())
        evaluate = UnlearningEvaluator(encoded, cfg.eval.batch_size, encoding.tokenizer.pad_token_id)
        return evaluate, f"{counts} examples, against the initial policy", sum(len(v) for v in encoded.values())


FAMILY = UnlearningFamily(
    name="unlearning",
    description="unlearning model",
    primary="forget_logp_drop",
    metric_order=("forget_logp", "forget_logp_drop", "forget_nll", "retain_logp", "retain_logp_change", "retain_nll",
                  "retain_ppl", "heldout_logp", "heldout_logp_change", "heldout_nll", "heldout_ppl"),
    report=ReportColumns(key=("after/forget_logp_drop",), curves=("eval/forget_logp_drop",)),
    rank=3,
)
