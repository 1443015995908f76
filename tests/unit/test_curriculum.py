"""Curry-DPO's order: pairs easy to hard by score gap, and a sequential sampler so the trainer keeps that order."""

from __future__ import annotations

import pytest
from conftest import compose

from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.records.unpaired import Unpaired
from contrastlab.errors import UserError


def _pair(name, chosen, rejected):
    return PreferencePair(prompt=name, chosen="a", rejected="b", score_chosen=chosen, score_rejected=rejected)


def test_pairs_are_ordered_by_gap_largest_first_ties_keep_their_order():
    pairs = [_pair("small", 1.0, 0.9), _pair("big", 5.0, 1.0), _pair("mid1", 2.0, 1.5), _pair("mid2", 0.5, 0.0)]
    assert [p.prompt for p in PreferencePair.by_difficulty(pairs)] == ["big", "mid1", "mid2", "small"]  # gaps 4, .5, .5, .1


def test_unscored_pairs_and_other_records_are_refused():
    with pytest.raises(UserError, match="pair 1 of data=x has no scores"):
        PreferencePair.by_difficulty([_pair("a", 1.0, 0.0), PreferencePair("b", "c", "d")], "x")
    with pytest.raises(UserError, match="drop train.curriculum"):
        Unpaired.by_difficulty([Unpaired("p", "c", True)])


def test_curriculum_makes_the_trainer_read_in_order(tmp_path):
    import transformers
    from torch.utils.data import SequentialSampler

    from contrastlab.objectives.trainers.trl_glue import shared_args

    cfg = compose(["model=tiny", "data=rt_ranked", "train.curriculum=true"])
    args = shared_args(cfg.train, cfg.hardware, tmp_path, 100)
    assert args["train_sampling_strategy"] == "sequential"
    args.pop("max_length")
    trainer = transformers.Trainer(model=transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8)),
        args=transformers.TrainingArguments(**args), train_dataset=list(range(10)))  # fmt: skip
    assert isinstance(trainer._get_train_sampler(), SequentialSampler)
    assert "train_sampling_strategy" not in shared_args(compose(["model=tiny"]).train, cfg.hardware, tmp_path, 100)
