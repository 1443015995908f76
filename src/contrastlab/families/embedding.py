"""The embedding family: a sentence encoder trained by a contrastive loss on our embedding trainer.

Evaluated (`eval.embedding`) on a similarity benchmark (`data.benchmark`: Spearman and Pearson correlation of the
embeddings' cosine similarity with the human scores) and by alignment and uniformity of positives; without a
benchmark, on the held-out (anchor, positive) pairs. The model folder is a sentence-transformers model.
"""

from __future__ import annotations

from contrastlab.data.records import adapt
from contrastlab.data.records.sentence_pair import SentencePair
from contrastlab.errors import UserError
from contrastlab.families.base import Family, Session
from contrastlab.tracking.jobs import ReportColumns


class EmbeddingFamily(Family):
    def check(self, cfg, objective) -> None:
        super().check(cfg, objective)
        t, o, hw = cfg.train, cfg.objective, cfg.hardware
        if cfg.model.get("init"):
            raise UserError(f"model.init starts a language model from a run's model; objective={o.name} trains a "
                            "sentence encoder: load a trained encoder with model=hub model.path=RUN_DIR/model instead")
        if t.max_steps == 0:
            raise UserError("train.max_steps=0 (evaluate only) is for language-model runs; for a sentence encoder "
                            "run its benchmark with train.max_steps=1 eval.before=true and read before/")
        if t.batch_size < 2:
            raise UserError(f"train.batch_size={t.batch_size}: objective={o.name} contrasts each example with the rest "
                            "of its batch, so it needs at least 2 (in-batch negatives want 32 or more)")
        if o.mini_batch_size < 0:
            raise UserError(f"objective.mini_batch_size={o.mini_batch_size} must be 0 (off) or a chunk size")
        if cfg.eval.max_length is not None and cfg.eval.max_length < 1:
            raise UserError(f"eval.max_length={cfg.eval.max_length} must be at least 1, or null for the model's limit")
        if hw.strategy != "single" and o.mini_batch_size > 0:
            raise UserError(f"objective.mini_batch_size={o.mini_batch_size} (GradCache) runs in one process; with "
                            f"hardware={hw.name} set it to 0: the processes' in-batch negatives are gathered, so "
                            "num_processes x train.batch_size texts already contrast")
        if hw.strategy in ("fsdp", "deepspeed"):
            raise UserError(f"objective={o.name} trains a sentence encoder, which fits on one device: use hardware=ddp "
                            f"(in-batch negatives are gathered over the processes) instead of hardware={hw.name}")

    def session(self, ctx) -> "EmbeddingSession":
        return EmbeddingSession(ctx)


class EmbeddingSession(Session):
    """The embedder (seeded by train.seed) on the hardware's device, the benchmark and the held-out pairs."""

    def __init__(self, ctx):
        import transformers

        from contrastlab.data.benchmarks import chosen_name, load_benchmark
        from contrastlab.data.encoding import Encoding
        from contrastlab.data.lengths import count_truncated
        from contrastlab.eval.embedding import EmbeddingEvaluator
        from contrastlab.models.embedders import load_embedder

        cfg, self.ctx = ctx.cfg, ctx
        held_out = adapt(ctx.eval_records, SentencePair, data_name=cfg.data.name) if ctx.eval_records else []
        self.benchmark = load_benchmark(cfg.data)
        transformers.set_seed(cfg.train.seed)
        self.model = load_embedder(cfg.model, ctx.hardware)
        self.tokenizer = self.model.tokenizer
        ctx.data_counts["data/truncated"] = count_truncated(Encoding(self.tokenizer, False), ctx.train_records,
                                                            cfg.train.max_length)  # fmt: skip
        self.model.to("cuda" if ctx.hardware.device == "cuda" else "cpu")
        max_length = cfg.eval.max_length or self.model.max_length
        self._evaluate = EmbeddingEvaluator(self.benchmark, held_out, cfg.data.positive_threshold,
                                            cfg.eval.batch_size, max_length)  # fmt: skip
        self.num_eval = len(held_out)
        if self.benchmark:
            self.described = (f"benchmark {chosen_name(cfg.data)}: {len(self.benchmark)} scored pairs, "
                              f"{len(self._evaluate.texts)} texts")
        else:
            self.described = f"{len(held_out)} held-out pairs"

    def evaluate(self, model, desc: str = "eval") -> dict[str, float]:
        from contrastlab.models.precision import compute

        with compute(self.ctx.hardware):  # the trainer's autocast, before training as after (models.precision)
            metrics = self._evaluate(self.model, desc)  # the embedder the trainer's contrastive model wraps
        self.last_examples = dict(self._evaluate.examples) or None
        return metrics

    def finish(self, trainer, runlog) -> dict[str, float]:
        from contrastlab.distributed import is_main
        from contrastlab.models.embedders import save_embedder

        if self.ctx.cfg.save_model and is_main():
            save_embedder(self.model, self.ctx.run_dir / "model")
        metrics = {"data/num_benchmark": len(self.benchmark)}
        scale = trainer.model.head.scale()  # None for a loss without a temperature
        if scale is not None:
            metrics["train/scale"] = float(scale)
        return metrics


FAMILY = EmbeddingFamily(
    name="embedding",
    description="embedding model",
    primary="spearman",
    metric_order=("spearman", "pearson", "alignment", "uniformity"),
    report=ReportColumns(key=("after/spearman",), curves=("eval/spearman",)),
    rank=2,
    lora_task=None,  # the embedder adds its own adapter (models.embedders)
    trains_encoders=True,
)
