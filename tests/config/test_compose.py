"""Every YAML under conf/ composes and validates; typos and wrong types fail at composition."""

from __future__ import annotations

import pytest
from conftest import CONF, FIXTURES, compose
from hydra.errors import ConfigCompositionException

from contrastlab.config.validate import validate
from contrastlab.errors import UserError
from contrastlab.objectives import discover

GROUP_FILES = sorted(p for p in CONF.rglob("*.yaml") if p.parent != CONF)


EMBEDDING_DATA = {"lee", "wordsim353", "simlex999", "nli", "stsb", "wiki1m"}
ENCODERS = {"minilm", "tiny_encoder", "bert"}


def _feeds(overrides: list[str], objective: str) -> bool:
    """Whether the records of the data in `overrides` feed `objective` (its record type, or a sound conversion)."""
    from contrastlab.data.records import can_adapt
    from contrastlab.data.sources import native_record_type

    return can_adapt(native_record_type(compose(overrides).data), discover()[objective].record)


def _learns_from_a_reward(objective: str) -> bool:
    spec = discover()[objective]
    return spec.needs(compose([f"objective={objective}"]).objective).reward


def _taker(overrides: list[str]) -> str:
    """The first offline objective that takes the data's records (an on-policy one would need a reward too)."""
    return next(name for name in sorted(discover()) if _feeds(overrides, name) and not _learns_from_a_reward(name))


def _reward_run(folder) -> str:
    """A folder that passes reward=model's cheap checks (a run's config and a model/ folder)."""
    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    (folder / ".hydra" / "config.yaml").write_text("objective:\n  name: reward\n")
    (folder / "model").mkdir(exist_ok=True)
    return str(folder)


def _overrides_for(path, tmp_path=None) -> list[str]:
    """Compose each YAML with partners that fit it: a sentence encoder and sentences for the embedding ones; a
    reward for an on-policy objective, and an objective that learns from it for a reward."""
    group = path.parent.relative_to(CONF).as_posix()
    overrides = [f"{group}={path.stem}"]
    if group == "objective" and _learns_from_a_reward(path.stem):
        overrides.append("reward=lexicon")
    if group == "reward" and path.stem != "none":
        overrides.append("objective=grpo")
        overrides += {"model": [f"reward.path={_reward_run(tmp_path / 'reward_run')}"],
                      "python": ["reward.function=my_rewards:score"]}.get(path.stem, [])
    if group == "data" and path.stem == "jsonl":
        overrides.append(f"data.path={FIXTURES / 'data' / 'pairs.jsonl'}")
    embedding = (
        (group == "objective" and discover()[path.stem].family == "embedding")
        or (group == "model" and path.stem in ENCODERS)
        or (group == "data" and path.stem in EMBEDDING_DATA)
    )
    if embedding:
        partners = {"objective": "objective=simcse", "model": "model=tiny_encoder", "data": "data=lee"}
        overrides += [p for g, p in partners.items() if g != group]
    elif group == "data" and not _feeds(overrides, "dpo"):  # records the default objective cannot use (to forget,
        overrides.append(f"objective={_taker(overrides)}")  # joint pairs): the first objective that takes them
    return overrides


def test_every_yaml_is_found():
    groups = {p.parent.name for p in GROUP_FILES}
    assert {"objective", "model", "data", "hardware", "logger", "experiment"} <= groups
    assert len(GROUP_FILES) >= 25


@pytest.mark.parametrize("path", GROUP_FILES, ids=lambda p: p.relative_to(CONF).as_posix())
def test_yaml_composes_and_validates(path, tmp_path):
    cfg = compose(_overrides_for(path, tmp_path))
    spec, family = validate(cfg)
    assert spec.name == cfg.objective.name and family.name == spec.family
    group = path.parent.name
    if group == "objective":  # each objective YAML names the objective its file is for
        assert cfg.objective.name == path.stem


def test_default_config_is_the_documented_default_run():
    cfg = compose([])
    assert (cfg.objective.name, cfg.model.name, cfg.data.name, cfg.hardware.name) == (
        "dpo", "smollm2", "rt_sentiment", "cpu")  # fmt: skip
    assert cfg.model.lora.enabled is True
    assert cfg.logger.backend == "wandb" and cfg.logger.mode == "offline"
    assert cfg.model.trust_remote_code is False


def test_every_objective_module_has_a_yaml():
    assert set(discover()) == {p.stem for p in (CONF / "objective").glob("*.yaml")}


def test_misspelt_key_fails_at_composition():
    with pytest.raises(ConfigCompositionException, match="bta"):
        compose(["objective.bta=0.1"])


def test_wrong_type_fails_at_composition():
    with pytest.raises(ConfigCompositionException, match="beta"):
        compose(["objective.beta=abc"])
    with pytest.raises(ConfigCompositionException, match="max_steps"):
        compose(["train.max_steps=lots"])


def test_objective_specific_field_is_typed():
    cfg = compose(["objective=rdpo", "objective.label_noise=0.2"])
    assert cfg.objective.label_noise == 0.2
    with pytest.raises(ConfigCompositionException):
        compose(["objective=dpo", "objective.label_noise=0.2"])  # a field of rdpo, not of dpo


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["objective.loss_type=sigmoidd"], "not a DPO loss type"),
        (["objective.loss_type=[sigmoid,sft]", "objective.loss_weights=[1.0]"], "loss_weights"),
        (["objective=rdpo", "objective.label_noise=0.5"], "label_noise"),
        (["train.warmup=1.5"], "train.warmup"),
        (["train.max_steps=-2"], "train.max_steps"),
        (["train.max_steps=0", "eval.after=false"], "evaluates without training"),
        (["hardware.precision=fp16"], "fp16 needs a GPU"),
        (["data=jsonl", "data.path=/no/such/file.jsonl"], "/no/such/file.jsonl"),
        (["model=llama", "model.path="], "model.path"),
        (["data.eval_fraction=0"], "holds nothing out, and the held-out evaluation of a policy"),  # the family's
        (["data.eval_fraction=1.0"], "must be at least 0 and below 1"),  # the data's rule, checked once
        (["objective=simcse", "model=tiny_encoder", "data=lee", "data.eval_fraction=1.0"], "at least 0 and below 1"),
    ],
)
def test_cross_field_checks(overrides, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        validate(compose(overrides))


def test_dpo_accepts_a_weighted_list_of_loss_types():
    cfg = compose(["objective.loss_type=[sigmoid,sft]", "objective.loss_weights=[1.0,0.5]"])
    spec, _ = validate(cfg)
    args = spec.trl_args(cfg.objective)
    assert args["loss_type"] == ["sigmoid", "sft"] and args["loss_weights"] == [1.0, 0.5]


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")))
def test_every_experiment_composes_and_validates(experiment):
    cfg = compose([f"experiment={experiment}", "name=test"])
    assert validate(cfg)[0].name == cfg.objective.name
