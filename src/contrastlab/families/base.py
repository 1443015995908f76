"""What every family is: how a kind of model is loaded, evaluated, reported and checked.

A family (policy, reward, unlearning, embedding, ...) is a module of this package exporting `FAMILY`. An objective
names its family (`ObjectiveSpec.family`, a key of `contrastlab.families`); the job asks the family for a `Session`
(the model it trains, its tokenizer and its held-out evaluation), and the family says what its runs report: the
primary metric (what a run returns to a sweeper), the order of the summary table, the comparison report's columns,
and its checks before anything loads. Nothing outside a family's module asks which family it is.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contrastlab.errors import UserError
from contrastlab.tracking.jobs import ReportColumns


@dataclass(frozen=True, kw_only=True)
class FamilyContext:
    """What a family's session starts from: the run's config and resolved hardware, the objective, the records (the
    training ones already of the objective's record type), and where the run writes."""

    cfg: Any
    hardware: Any
    objective: Any  # the objective's spec
    train_records: list
    eval_records: list
    data_counts: dict  # data/* metrics the session adds to (data/truncated)
    run_dir: Path
    runlog: Any  # tracking.run_folder.RunLog


class Session(ABC):
    """One job's model, tokenizer and held-out evaluation; made by `Family.session`."""

    model: Any  # what the objective's trainer trains
    tokenizer: Any
    chat: bool = False  # prompts go through the tokenizer's chat template
    described: str = ""  # what the held-out evaluation measures, for the summary
    num_eval: int = 0  # examples it measures
    baseline: bool = False  # the first evaluation is the reference of the later ones: run it before training
    last_examples: dict | None = None  # the last evaluation's per-example values: {"id": [...], metric: [...]}

    @abstractmethod
    def evaluate(self, model, desc: str = "eval") -> dict[str, float]:
        """Held-out metrics of `model` (the trainer's model)."""

    @contextlib.contextmanager
    def reference(self):
        """The model an evaluation-only run (train.max_steps=0) measures first, as the reference: the model itself
        unless the family knows another."""
        yield self.model

    def measure(self, model, runlog, step: int) -> dict[str, float]:
        """After training and its held-out evaluation (or in place of training, `train.max_steps=0`): the family's
        further measurements of `model` (generation), as after/ metrics."""
        return {}

    def finish(self, trainer, runlog) -> dict[str, float]:
        """After training and its evaluation: `measure`, and the model saved."""
        return self.measure(trainer.accelerator.unwrap_model(trainer.model), runlog, trainer.state.global_step)


@dataclass(frozen=True, kw_only=True)
class Family(ABC):
    """A kind of model the objectives train, and how it is evaluated and reported."""

    name: str  # the key objective specs name it by
    description: str  # what it trains, for messages ("reward model")
    primary: str  # the main held-out metric: after/<primary> is what a run returns to a sweeper
    metric_order: tuple[str, ...]  # the summary table's rows (others follow alphabetically)
    report: ReportColumns = field(default_factory=ReportColumns)  # its columns and plots in the comparison report
    rank: int = 0  # families' order in the comparison report
    lora_task: str | None = None  # PEFT task type of its head, for trainers that add the adapter
    generates: bool = False  # eval.generate applies: its models write completions
    scores_completions: bool = False  # its run folders can score completions (eval.reward_model)
    trains_encoders: bool = False  # its model is a sentence encoder (model=minilm, tiny_encoder serve it alone)

    def check(self, cfg, objective) -> None:
        """The family's checks of the config, before anything loads (UserError)."""
        e = cfg.eval
        if e.generate and not self.generates:
            raise UserError(f"eval.generate=true evaluates what a policy writes; objective={objective.name} trains a "
                            f"{self.description}: drop eval.generate")
        if e.reward_model and not e.generate:
            raise UserError("eval.reward_model is set but eval.generate=false: add eval.generate=true to score "
                            "generated completions with it")

    @abstractmethod
    def session(self, ctx: FamilyContext) -> Session:
        """Load the model (seeded by train.seed), its tokenizer and the held-out evaluation."""
