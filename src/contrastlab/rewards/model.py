"""reward=model: the scalar reward model of a finished `objective=reward` run, `reward.path=RUN_FOLDER`, reading
a prompt and a completion as that run was trained to (its chat template or plain text)."""

from __future__ import annotations

from contrastlab.rewards.base import RewardContext, RewardSource


def _check(cfg, trained_first=()):
    from pathlib import Path

    if not cfg.path:
        return "reward=model needs reward.path=RUN_FOLDER, the folder of a finished objective=reward run"
    folder = Path(cfg.path).expanduser()
    if str(cfg.path) in trained_first and not folder.exists():  # eval.reward_recipe trains it before this run
        return None
    if not (folder / ".hydra" / "config.yaml").is_file():
        return f"reward.path={cfg.path} is not a run folder (no .hydra/config.yaml): give an objective=reward run's"
    if not (folder / "model").is_dir():
        return (f"reward.path={cfg.path} has no model/ folder (the run did not finish, or ran with "
                "save_model=false): train it again, or give another reward run")
    return None


def _build(ctx: RewardContext):
    from contrastlab.eval.generation import RewardScorer
    from contrastlab.models.loading import load_reward_model

    scorer = RewardScorer(*load_reward_model(ctx.cfg.path, ctx.hardware), batch_size=ctx.batch_size)

    def reward_model(prompts: list[str], completions: list[str]) -> list[float]:
        return scorer(prompts, completions, "reward model").tolist()

    return reward_model


SOURCE = RewardSource(
    name="model",
    summary="the reward model of a finished objective=reward run (reward.path=RUN_FOLDER)",
    build=_build,
    check=_check,
    described=lambda cfg: f"reward.path={cfg.path}",
)
