"""One encoding: the token ids our trainer trains on and our evaluation measures are those TRL 1.16's DPOTrainer
trains on, for a tokenizer that adds BOS (with and without a chat template that writes it) and for one that does
not; the generation's prompts are the same prompts."""

from __future__ import annotations

import pytest
import torch
from conftest import compose

from contrastlab.data.encoding import Encoding
from contrastlab.data.records import to_rows
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.eval.generation import prompt_ids
from contrastlab.eval.preference import encode_pairs
from contrastlab.objectives.trainers.sequences import SequenceCollator, sequence_rows

MAX_LENGTH = 40
BOS_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
RECORDS = [
    PreferencePair(prompt="Name a colour.", chosen="Blue.", rejected="A rather long answer that goes on " * 4),
    PreferencePair(prompt="Review the film.", chosen="A delight from start to end.", rejected="Dull."),
    PreferencePair(prompt="Say hi. " * 30, chosen="Hi.", rejected="No."),  # its prompt alone fills MAX_LENGTH
]


def _tokenizer(bos: bool, template: str | None):
    from contrastlab.models.loading import load_tokenizer

    tokenizer = load_tokenizer(compose(["model=tiny"]).model)  # SmolLM2's real tokenizer (ChatML template, no BOS)
    if bos:
        tokenizer.bos_token = "<|endoftext|>"
        tokenizer.add_bos_token = True
        tokenizer.update_post_processor()
    if template is not None:
        tokenizer.chat_template = template
    return tokenizer


CASES = {
    "bos, no chat template": (True, None, False),
    "bos, a chat template that writes it": (True, BOS_TEMPLATE, True),
    "no bos, ChatML": (False, "keep", True),
}


def _case(name):
    bos, template, chat = CASES[name]
    tokenizer = _tokenizer(bos, None if template == "keep" else template)
    if template is None:
        tokenizer.chat_template = None
    return tokenizer, chat


def _trl(tokenizer, chat: bool, tmp_path):
    """TRL's DPOTrainer dataset preparation and collator on the same records."""
    from types import SimpleNamespace

    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    args = DPOConfig(output_dir=str(tmp_path), max_length=MAX_LENGTH, report_to="none", use_cpu=True, bf16=False)
    stub = SimpleNamespace(_tokenizer=tokenizer)
    rows = Dataset.from_list(to_rows(RECORDS, conversational=chat))
    prepared = DPOTrainer._prepare_dataset(stub, rows, tokenizer, args, "train")
    examples = [{k: prepared[i][k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")} for i in range(len(prepared))]
    batch = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id, max_length=MAX_LENGTH)(examples)
    return examples, batch


@pytest.mark.parametrize("case", list(CASES))
def test_training_ids_equal_trls(case, tmp_path):
    tokenizer, chat = _case(case)
    examples, trl_batch = _trl(tokenizer, chat, tmp_path)
    rows = sequence_rows(RECORDS, Encoding(tokenizer, chat), MAX_LENGTH)
    assert len(rows) == len(examples) == 2  # both drop the example whose prompt fills max_length
    ours = SequenceCollator(tokenizer.pad_token_id, MAX_LENGTH)(rows)
    for key in ("input_ids", "attention_mask", "completion_mask"):
        assert torch.equal(ours[key], trl_batch[key]), key
    if CASES[case][0]:  # BOS exactly once, at the start of every sequence
        sequences = ours["input_ids"].tolist()
        assert all(row[0] == tokenizer.bos_token_id and row.count(tokenizer.bos_token_id) == 1 for row in sequences)


@pytest.mark.parametrize("case", list(CASES))
def test_evaluation_ids_equal_trls(case, tmp_path):
    tokenizer, chat = _case(case)
    examples, _ = _trl(tokenizer, chat, tmp_path)
    encoded = encode_pairs(Encoding(tokenizer, chat), RECORDS[:2], MAX_LENGTH)
    for pair, example in zip(encoded, examples):
        prompt = example["prompt_ids"]
        for side, completion in ((pair.chosen, example["chosen_ids"]), (pair.rejected, example["rejected_ids"])):
            assert side.prompt + side.completion == (prompt + completion)[:MAX_LENGTH]
            assert side.prompt == prompt[:MAX_LENGTH]


@pytest.mark.parametrize("case", list(CASES))
def test_generation_prompts_are_the_training_prompts(case, tmp_path):
    tokenizer, chat = _case(case)
    examples, _ = _trl(tokenizer, chat, tmp_path)
    prompts = prompt_ids(tokenizer, [r.prompt for r in RECORDS[:2]], chat, MAX_LENGTH)
    assert prompts == [example["prompt_ids"] for example in examples]


def test_a_bos_tokenizer_really_adds_bos():
    tokenizer, _ = _case("bos, no chat template")
    assert tokenizer("Hello")["input_ids"][0] == tokenizer.bos_token_id != tokenizer("Hello")["input_ids"][1]


@pytest.mark.parametrize("system", ["", "Answer briefly."])
def test_a_system_prompt_replaces_the_templates_default_in_training_evaluation_and_generation(system, tmp_path):
    """SmolLM2's template writes its own system prompt before a prompt that has none; model.system_prompt puts ours
    there instead, the same in our rows, our evaluation, the generation prompts and what TRL's trainers read."""
    from contrastlab.data.encoding import with_system

    tokenizer, _ = _case("no bos, ChatML")
    default = Encoding(tokenizer, True).prompt(RECORDS[1].prompt)
    ours = Encoding(tokenizer, True, system)
    prompt = ours.prompt(RECORDS[1].prompt)
    assert "SmolLM" in tokenizer.decode(default) and "SmolLM" not in tokenizer.decode(prompt)
    assert tokenizer.decode(prompt).startswith(f"<|im_start|>system\n{system}<|im_end|>")
    assert len(prompt) < len(default)
    assert prompt_ids(tokenizer, [RECORDS[1].prompt], True, MAX_LENGTH, system) == [prompt[:MAX_LENGTH]]
    # TRL's preparation of rows whose prompt carries the system message gives our training ids
    from trl import DPOConfig, DPOTrainer
    from types import SimpleNamespace
    from datasets import Dataset

    rows = [{**r, "prompt": with_system(r["prompt"], system)} for r in to_rows(RECORDS[:2], conversational=True)]
    args = DPOConfig(output_dir=str(tmp_path), max_length=MAX_LENGTH, report_to="none", use_cpu=True, bf16=False)
    prepared = DPOTrainer._prepare_dataset(SimpleNamespace(_tokenizer=tokenizer), Dataset.from_list(rows), tokenizer,
                                           args, "train")  # fmt: skip
    for pair, i in zip(encode_pairs(ours, RECORDS[:2], MAX_LENGTH), range(2)):
        assert pair.chosen.prompt == prepared[i]["prompt_ids"][:MAX_LENGTH]
        assert pair.chosen.prompt + pair.chosen.completion == (prepared[i]["prompt_ids"] + prepared[i]["chosen_ids"])[:MAX_LENGTH]
    # a prompt with its own system message keeps it
    own = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi."}]
    assert with_system(own, system) == own
