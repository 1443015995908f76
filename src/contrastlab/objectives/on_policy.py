"""The on-policy kind: TRL's trainers that sample completions from the current policy and learn from the run's
reward of them (`reward=...`, `contrastlab.rewards`): GRPO, RLOO, online DPO.

Each source of the reward is one of TRL's reward functions (so TRL logs `rewards/<source>/mean` and weighs them by
`reward_weights`), checked at every call (`rewards.base.Part`: exit 2 naming a function that raises, returns the
wrong count or a non-finite value). The prompts are the records' (`data.records.prompt.Prompt`); what the trainer
wrote and how it scored goes to `train_samples.jsonl` and the W&B table `train/samples` at every logging step.
"""

from __future__ import annotations

from dataclasses import dataclass

from contrastlab.data.encoding import plain
from contrastlab.objectives.base import Needs, ObjectiveConfig
from contrastlab.objectives.kinds import TrainerContext, TrlObjective


@dataclass
class SamplingConfig(ObjectiveConfig):
    """Fields of every objective that samples from the policy with TRL."""

    max_completion_length: int = 32  # tokens a sampled completion has at most
    use_vllm: bool = False  # generate with TRL's vLLM path (colocated; a CUDA GPU and pip install '.[vllm]')
    temperature: float = 1.0  # sampling temperature of the completions


@dataclass
class GroupSamplingConfig(SamplingConfig):
    """Fields of an objective that samples a group of completions a prompt and penalises KL (GRPO, RLOO)."""

    beta: float = 0.05  # the KL penalty's weight against the reference (the initial policy); 0 = no reference
    num_generations: int = 4  # completions sampled per prompt (the group)
    epsilon: float = 0.2  # PPO's clip range of the importance ratio
    num_iterations: int = 1  # updates on each generation batch (mu)


def sampling_problem(cfg):
    """The check shared by the sampling objectives' configs: an error message or None."""
    if cfg.max_completion_length < 1 or cfg.temperature <= 0:
        return "objective.max_completion_length must be at least 1 and objective.temperature positive"
    return None


def group_problem(cfg, why: str):
    """The check shared by `GroupSamplingConfig` objectives; `why`: what a group of at least 2 is needed for."""
    if cfg.beta < 0:
        return f"objective.beta={cfg.beta} weighs the KL penalty: give 0 (none) or more"
    if cfg.num_generations < 2:
        return f"objective.num_generations={cfg.num_generations}: {why} needs at least 2 samples"
    if cfg.num_iterations < 1:
        return "objective.num_iterations must be at least 1"
    return sampling_problem(cfg)


def sampling_args(cfg) -> dict:
    """TRL's config fields for `SamplingConfig` (pure sampling: no top-k or top-p), vLLM when asked."""
    return {"temperature": cfg.temperature, "top_k": 0, "top_p": 1.0, **vllm_args(cfg)}


def group_args(cfg) -> dict:
    """TRL's config fields for `GroupSamplingConfig` (GRPOConfig and RLOOConfig share their names)."""
    return {"beta": cfg.beta, "num_generations": cfg.num_generations,
            "max_completion_length": cfg.max_completion_length, "epsilon": cfg.epsilon,
            "num_iterations": cfg.num_iterations, **sampling_args(cfg)}  # fmt: skip


def group_needs(cfg) -> Needs:
    """A reward; a reference only when beta > 0."""
    return Needs(reward=True, reference=cfg.beta > 0)


class TrlReward:
    """One source of the run's reward as TRL calls a reward function: keyword arguments `prompts` and
    `completions` (texts, or message lists for conversational data), one float per completion back."""

    def __init__(self, part, name: str):
        self.part, self.__name__ = part, name

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float]:
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


@dataclass(frozen=True, kw_only=True)
class OnPolicyObjective(TrlObjective):
    """A TRL trainer that takes `reward_funcs` (the run's reward, one function per source) and their weights."""

    def reward_scale(self, cfg) -> float:
        return cfg.beta if cfg.beta > 0 else 1.0  # the held-out pairs' implicit reward: the log-ratio when beta = 0

    def extra(self, ctx: TrainerContext) -> tuple[dict, dict]:
        from contrastlab.rewards import build_for_run

        reward = build_for_run(ctx.cfg, ctx.tokenizer, ctx.hardware, ctx.cfg.eval.batch_size)
        funcs = [TrlReward(part, part.source) for part in reward.parts]
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
