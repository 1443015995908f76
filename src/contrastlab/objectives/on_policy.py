"""The on-policy kind: TRL's trainers that sample completions from the current policy and learn from the run's
reward of them (`reward=...`, `contrastlab.rewards`): GRPO, RLOO, online DPO.

Each source of the reward is one of TRL's reward functions (so TRL logs `rewards/<source>/mean` and weighs them by
`reward_weights`), checked at every call (`rewards.base.Part`: exit 2 naming a function that raises, returns the
wrong count or a non-finite value). The prompts are the records' (`data.records.prompt.Prompt`); what the trainer
wrote and how it scored goes to `train_samples.jsonl` and the W&B table `train/samples` at every logging step.
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.objectives.kinds import TrainerContext, TrlObjective


class TrlReward:
    """One source of the run's reward as TRL calls a reward function: keyword arguments `prompts` and
    `completions` (texts, or message lists for conversational data), one float per completion back."""

    def __init__(self, part, name: str):
        self.part, self.__name__ = part, name

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float]:
        from contrastlab.data.encoding import plain

        return self.part([plain(p) for p in prompts], [plain(c) for c in completions])


def vllm_problem(cfg):
    """`objective.use_vllm=true` (TRL's vLLM generation, colocated with training) needs a CUDA GPU and vLLM."""
    import importlib.util

    if not cfg.objective.use_vllm:
        return None
    if cfg.hardware.device != "cuda":
        return (f"objective.use_vllm=true generates with vLLM, which needs a CUDA GPU, but hardware.device="
                f"{cfg.hardware.device}: use hardware=gpu, or drop objective.use_vllm (transformers' generate)")
    if importlib.util.find_spec("vllm") is None:
        return "objective.use_vllm=true needs vLLM: pip install '.[vllm]' (or drop objective.use_vllm)"
    return None


def vllm_args(cfg) -> dict:
    """TRL's config fields for `objective.use_vllm`."""
    return {"use_vllm": True, "vllm_mode": "colocate"} if cfg.use_vllm else {}


def whole_groups(cfg):
    """The run check of an objective sampling `objective.num_generations` completions a prompt: a generation batch
    (train.batch_size x processes x grad_accum completions) holds whole groups."""
    t, g = cfg.train, cfg.objective.num_generations
    per_step = t.batch_size * max(1, cfg.hardware.num_processes or 1) * t.grad_accum
    if per_step % g:
        return (f"objective.num_generations={g} completions per prompt must divide the {per_step} completions of a "
                f"step (train.batch_size x processes x train.grad_accum): e.g. train.batch_size={g}")
    return vllm_problem(cfg)


def _source_name(label: str) -> str:
    return label.split("=", 1)[1].split(" ", 1)[0] if "=" in label else label


@dataclass(frozen=True, kw_only=True)
class OnPolicyObjective(TrlObjective):
    """A TRL trainer that takes `reward_funcs` (the run's reward, one function per source) and their weights."""

    def extra(self, ctx: TrainerContext) -> tuple[dict, dict]:
        from contrastlab.rewards import build_for_run

        reward = build_for_run(ctx.cfg, ctx.tokenizer, ctx.hardware, ctx.cfg.eval.batch_size)
        funcs = [TrlReward(part, _source_name(part.label)) for part in reward.parts]
        return {"reward_weights": [part.weight for part in reward.parts]}, {"reward_funcs": funcs}

    def build_trainer(self, ctx: TrainerContext):
        """TRL's trainer, its reference (beta > 0, no LoRA) a frozen copy of the policy as it starts: TRL would
        load one from the policy's hub id, which an in-memory or local model does not have."""
        import contextlib
        import sys
        from unittest import mock

        from contrastlab.models.loading import frozen_copy
        from contrastlab.objectives.trainers.trl_glue import trl_classes

        module = sys.modules[trl_classes(self.trl_trainer)[1].__module__]
        patch = contextlib.nullcontext()
        if hasattr(module, "create_model_from_path"):
            patch = mock.patch.object(module, "create_model_from_path", lambda *a, **k: frozen_copy(ctx.model))
        with patch:
            return super().build_trainer(ctx)

    def built(self, trainer, ctx: TrainerContext) -> None:
        from contrastlab.objectives.trainers.samples import TrainingSamples

        trainer.add_callback(TrainingSamples(trainer, ctx.run_dir, ctx.runlog))
