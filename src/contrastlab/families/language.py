"""What the families of language models share (policy, reward, unlearning): a tokenizer, a model with the family's
head, the held-out evaluation on the one encoding, and the model saved to the run folder with its tokenizer."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from dataclasses import dataclass

from contrastlab.data.records import adapt, can_adapt
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.errors import UserError
from contrastlab.families.base import Family, FamilyContext, Session


def held_out_pairs(ctx: FamilyContext) -> list:
    """The held-out records as pairs (chosen, rejected): pairwise records as they are, others converted where that
    is sound (a ranked list gives its ordered pairs), else none."""
    records = ctx.eval_records
    kind = type(records[0]) if records else PreferencePair
    if kind.pairwise:
        return list(records)
    return adapt(records, PreferencePair, data_name=ctx.cfg.data.name) if can_adapt(kind, PreferencePair) else []


@dataclass(frozen=True, kw_only=True)
class LanguageFamily(Family):
    """A family whose model is a language model (`head="causal_lm"`) or a scalar scorer on one (`head="score"`)."""

    head: str = "causal_lm"  # models.loading.load_model's head
    lora_task: str | None = "CAUSAL_LM"
    needs_baseline: bool = True  # the initial model is the reference of its evaluation (measured before training)

    def check(self, cfg, objective) -> None:
        super().check(cfg, objective)
        from contrastlab.models.catalog import is_encoder

        if is_encoder(cfg.model):
            from contrastlab.families import encoder_objectives

            raise UserError(f"model={cfg.model.name} is a sentence encoder with no language-model head, so it cannot "
                            f"train objective={objective.name}; use it with {encoder_objectives()}, or pick "
                            "a language model (model=smollm2)")
        if cfg.data.eval_fraction == 0:  # its bounds, [0, 1), are the data's rule (data.sources.check_source)
            raise UserError(f"data.eval_fraction={cfg.data.eval_fraction} holds nothing out, and the held-out "
                            f"evaluation of a {self.description} needs held-out examples: give a fraction in (0, 1), "
                            "e.g. data.eval_fraction=0.1")

    @abstractmethod
    def evaluator(self, ctx: FamilyContext, encoding):
        """(evaluate(model, desc) -> metrics, what it measures, how many examples it measures), on the session's
        one encoding (`data.encoding.Encoding`: its tokenizer, chat template and system prompt)."""

    def session(self, ctx: FamilyContext) -> Session:
        return LanguageSession(self, ctx)


class LanguageSession(Session):
    """The tokenizer, the held-out evaluation, then the model (seeded by train.seed), on the hardware's device."""

    def __init__(self, family: LanguageFamily, ctx: FamilyContext):
        from contrastlab.data.encoding import Encoding
        from contrastlab.data.lengths import check_room, count_truncated
        from contrastlab.models.loading import load_tokenizer

        cfg, train = ctx.cfg, ctx.cfg.train
        self.family, self.ctx = family, ctx
        self.tokenizer = load_tokenizer(cfg.model)
        self.chat = bool(cfg.model.chat_template and self.tokenizer.chat_template)
        encoding = Encoding(self.tokenizer, self.chat, cfg.model.system_prompt)
        check_room(encoding, ctx.train_records, train.max_length, cfg.data.name)
        ctx.data_counts["data/truncated"] = count_truncated(encoding, ctx.train_records, train.max_length)
        self._evaluate, self.described, self.num_eval = family.evaluator(ctx, encoding)
        self.model = self.initial_model()
        self.baseline = family.needs_baseline and cfg.eval.after

    def initial_model(self):
        """The model as it is before training (seeded by train.seed, so the same weights each time), on the
        hardware's device."""
        import transformers

        from contrastlab.models.loading import load_model

        cfg = self.ctx.cfg
        transformers.set_seed(cfg.train.seed)
        model = load_model(cfg.model, self.ctx.hardware, self.tokenizer, head=self.family.head,
                           merge=cfg.train.max_steps != 0)  # evaluate only: a run's adapter as it trained it
        return model.to("cuda" if self.ctx.hardware.device == "cuda" else "cpu")

    @contextlib.contextmanager
    def reference(self):
        """The reference policy, loaded for as long as it is needed (no second copy held through training): the
        model with its LoRA adapter switched off; evaluating a run's full weights (model.init, train.max_steps=0),
        that run's starting model; else the initial weights, loaded again."""
        from contrastlab.eval.generation import adapter_off
        from contrastlab.models.init import reference_config
        from contrastlab.models.loading import load_model

        cfg, model = self.ctx.cfg, self.model
        if hasattr(model, "disable_adapter") and cfg.train.max_steps == 0:
            with adapter_off(model) as reference:
                yield reference
            return
        if cfg.model.get("init") and cfg.train.max_steps == 0:
            import transformers

            base_cfg, seed = reference_config(cfg.model)
            transformers.set_seed(seed)
            reference = load_model(base_cfg, self.ctx.hardware, self.tokenizer, head=self.family.head,
                                   trained=True)  # fp32, as that run's frozen copy  # fmt: skip
            reference.to(next(model.parameters()).device)
        else:
            reference = self.initial_model()
        reference.eval().requires_grad_(False)
        try:
            yield reference
        finally:
            del reference

    def evaluate(self, model, desc: str = "eval") -> dict[str, float]:
        from contrastlab.models.precision import compute

        with compute(self.ctx.hardware):  # before training as after it: the policy's autocast (models.precision)
            metrics = self._evaluate(model, desc)
        self.last_examples = getattr(self._evaluate, "examples", None) or None
        return metrics

    def save(self, trainer) -> None:
        """model/: the weights (the adapter alone with LoRA) and the tokenizer; every process takes part (FSDP and
        ZeRO-3 gather the weights), rank 0 writes."""
        from contrastlab.tracking.model_card import name_the_base

        folder = str(self.ctx.run_dir / "model")
        trainer.save_model(folder)
        if trainer.is_world_process_zero():
            self.tokenizer.save_pretrained(folder)
            name_the_base(folder, self.ctx.cfg.model)  # the base's real id, not this machine's cache folder

    def finish(self, trainer, runlog) -> dict[str, float]:
        metrics = super().finish(trainer, runlog)
        if self.ctx.cfg.save_model:
            self.save(trainer)
        return metrics
