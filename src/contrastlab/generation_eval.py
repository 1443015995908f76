"""Generation evaluation inside a run (`eval.generate=true`): the reward model it scores with, trained first from
`eval.reward_recipe` when asked, and the completions of the trained policy and its reference (`eval.generation`).
"""

from __future__ import annotations

from pathlib import Path

from contrastlab.distributed import is_main
from contrastlab.errors import UserError


def ensure_reward_model(cfg) -> None:
    """With `eval.reward_recipe`: train the reward model into `eval.reward_model` first, unless a finished run is
    there already (a lock makes parallel jobs of a sweep wait for the one that trains it)."""
    import fcntl
    import json

    e = cfg.eval
    if not (e.generate and e.reward_model and e.reward_recipe):
        return
    folder, recipe = Path(e.reward_model), [str(o) for o in e.reward_recipe]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "metrics.json").exists():
            saved = json.loads((folder / "recipe.json").read_text()) if (folder / "recipe.json").exists() else None
            if saved is not None and saved != recipe:
                raise UserError(f"eval.reward_model={folder} was trained with other overrides ({' '.join(saved)}) "
                                "than eval.reward_recipe asks for: delete that folder, or point eval.reward_model "
                                "elsewhere")  # fmt: skip
            return
        if folder.exists() and any(folder.iterdir()):
            raise UserError(f"eval.reward_model={folder} holds an unfinished run (no metrics.json): delete it to "
                            "train the reward model again")
        rm_cfg = _compose(recipe)
        if rm_cfg.objective.name != "reward":
            raise UserError(f"eval.reward_recipe must train objective=reward, not objective={rm_cfg.objective.name}")
        rm_cfg.name = f"reward-{folder.name}"  # not the sweep job's name, which the config would resolve to
        print(f"Training the reward model first, into {folder} ({' '.join(recipe)})")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "recipe.json").write_text(json.dumps(recipe) + "\n")
        from contrastlab.runner import run

        run(rm_cfg, run_dir=folder)


def _compose(overrides: list[str]):
    """The config the overrides compose to (from the running app's config path, or this checkout's conf/)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return compose(config_name="config", overrides=overrides)
    from contrastlab.config.registry import register

    register()
    with initialize_config_dir(str(Path(__file__).resolve().parents[2] / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def generation_eval(cfg, model, tokenizer, chat, eval_records, frozen_ref, runlog, run_dir):
    """Completions of the trained policy and of its reference for held-out prompts, scored by the reward model
    (`eval.reward_model`) when there is one: (metrics, a line saying what was measured). The samples go to
    `samples.jsonl` in the run folder and to a W&B table."""
    import contextlib
    import json

    from contrastlab.eval.generation import GenerationEvaluator, RewardScorer, adapter_off, held_out_prompts
    from contrastlab.models.loading import load_reward_model

    e = cfg.eval
    scorer = None
    if e.reward_model:
        scorer = RewardScorer(*load_reward_model(e.reward_model, cfg.hardware), batch_size=e.batch_size)

    def reference():
        return contextlib.nullcontext(frozen_ref) if frozen_ref is not None else adapter_off(model)

    prompts = held_out_prompts(eval_records, e.num_prompts)
    evaluator = GenerationEvaluator(tokenizer, prompts, chat, cfg.train.max_length, e.max_new_tokens, e.num_samples,
                                    e.temperature, e.batch_size, cfg.train.seed, scorer)  # fmt: skip
    metrics = evaluator(model, reference)  # every process generates for its share of the prompts
    if is_main():
        with open(run_dir / "samples.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in evaluator.samples)
    runlog.table("gen/samples", evaluator.samples)
    scored = f"scored by {e.reward_model}" if scorer else "no reward model (eval.reward_model)"
    about = (f"generation: {len(prompts)} prompts, greedy + {e.num_samples} samples each (temperature "
             f"{e.temperature}, <= {e.max_new_tokens} tokens), {scored}; before = the reference policy")
    return metrics, about
