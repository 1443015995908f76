"""The reference log-prob cache's parts: the fingerprints of the reference and of the data, and an entry's store and
load (atomic, first writer wins, a damaged entry recomputed rather than fatal)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import torch
from datasets import Dataset

from contrastlab.models.loading import frozen_copy
from contrastlab.objectives.trainers import ref_cache
from contrastlab.objectives.trainers.ref_cache import (
    cached_reference,
    data_fingerprint,
    entry_dir,
    load,
    reference_fingerprint,
    resolve_cache_dir,
    store,
)

ROWS = [{"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5], "rejected_ids": [6], "margin": 0.5},
        {"prompt_ids": [7], "chosen_ids": [8, 9, 10], "rejected_ids": [11, 12], "margin": 1.5},
        {"prompt_ids": [13, 14], "chosen_ids": [15], "rejected_ids": [16, 17, 18], "margin": 2.5}]  # fmt: skip
IDS = ["prompt_ids", "chosen_ids", "rejected_ids"]


def _model(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=32, tie_word_embeddings=False)  # fmt: skip
    return LlamaForCausalLM(config)


def _lora(model):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))


def test_lora_model_and_frozen_copy_of_its_base_share_a_fingerprint():
    model = _model()
    plain = reference_fingerprint(frozen_copy(model))
    peft = _lora(model)
    with torch.no_grad():  # a trained adapter (B no longer 0) is still left out: the reference is the base
        for name, p in peft.named_parameters():
            if "lora_" in name:
                p.add_(1.0)
    assert reference_fingerprint(peft) == plain
    assert reference_fingerprint(_lora(_model())) == plain  # another LoRA run (another adapter init), same base


def test_a_changed_weight_dtype_or_shape_changes_the_fingerprint():
    model = _model()
    before = reference_fingerprint(model)
    changed = frozen_copy(model)
    with torch.no_grad():
        changed.model.layers[0].mlp.up_proj.weight[0, 0] += 1e-6
    assert reference_fingerprint(changed) != before
    assert reference_fingerprint(frozen_copy(model).to(torch.bfloat16)) != before
    assert reference_fingerprint(_model(seed=1)) != before
    assert reference_fingerprint(_model()) == before  # same seed, same weights


def test_bf16_weights_hash():
    model = _model().to(torch.bfloat16)
    assert reference_fingerprint(model) == reference_fingerprint(frozen_copy(model))


def test_data_fingerprint_reads_only_the_named_columns_in_row_order():
    base = data_fingerprint(Dataset.from_list(ROWS), IDS)
    other_margins = [{**r, "margin": 0.0} for r in ROWS]
    assert data_fingerprint(Dataset.from_list(other_margins), IDS) == base
    changed = [dict(ROWS[0], chosen_ids=[4, 99]), *ROWS[1:]]
    assert data_fingerprint(Dataset.from_list(changed), IDS) != base
    assert data_fingerprint(Dataset.from_list(ROWS[::-1]), IDS) != base
    assert data_fingerprint(Dataset.from_list(ROWS), IDS[:2]) != base


def test_data_fingerprint_ignores_chunking_and_applies_index_mappings():
    from datasets import concatenate_datasets

    whole = data_fingerprint(Dataset.from_list(ROWS), IDS)
    chunked = concatenate_datasets([Dataset.from_list(ROWS[:1]), Dataset.from_list(ROWS[1:])])
    assert data_fingerprint(chunked, IDS) == whole
    reordered = Dataset.from_list(ROWS[::-1]).select([2, 1, 0])  # an indices mapping over reversed rows
    assert data_fingerprint(reordered, IDS) == whole
    sliced = Dataset.from_list([ROWS[2], *ROWS, ROWS[0]]).select(range(1, 4))  # a contiguous slice of a table
    assert data_fingerprint(sliced, IDS) == whole


def test_data_fingerprint_is_the_same_in_another_process():
    code = ("import json, sys; from datasets import Dataset; "
            "from contrastlab.objectives.trainers.ref_cache import data_fingerprint; "
            "rows, cols = json.loads(sys.argv[1]); print(data_fingerprint(Dataset.from_list(rows), cols))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, json.dumps([ROWS, IDS])], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == data_fingerprint(Dataset.from_list(ROWS), IDS)


def test_cache_dir_is_the_config_then_the_environment_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("CONTRASTLAB_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(str(tmp_path / "cfg")) == tmp_path / "cfg"
    assert resolve_cache_dir(None) == tmp_path / "env"
    monkeypatch.delenv("CONTRASTLAB_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_cache_dir(None) == tmp_path / "home" / ".cache" / "contrastlab"
    assert resolve_cache_dir("~/c") == tmp_path / "home" / "c"


def _parts(**extra):
    return {"trainer": "test", "reference": "r", "data": "d", "rows": len(ROWS), **extra}


def _logps(value: float = 0.0):
    return Dataset.from_dict({"ref_chosen_logps": [value - i for i in range(len(ROWS))],
                              "ref_rejected_logps": [value - 2 * i for i in range(len(ROWS))]})  # fmt: skip


def test_store_then_load_adds_the_columns_and_writes_key_json(tmp_path):
    data, parts = Dataset.from_list(ROWS), _parts()
    entry = entry_dir(tmp_path, parts)
    assert load(entry, parts, data) is None  # nothing there: a miss
    assert store(entry, parts, _logps())
    loaded = load(entry, parts, data)
    assert loaded.column_names == [*data.column_names, "ref_chosen_logps", "ref_rejected_logps"]
    assert loaded["ref_rejected_logps"] == [0.0, -2.0, -4.0]
    key = json.loads((entry / "key.json").read_text())
    assert key["parts"] == parts and key["rows"] == 3 and key["key"] == entry.name
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary folder left behind


def test_the_first_writer_wins_and_a_row_count_mismatch_is_a_miss(tmp_path, caplog):
    data, parts = Dataset.from_list(ROWS), _parts()
    entry = entry_dir(tmp_path, parts)
    assert store(entry, parts, _logps(0.0))
    assert store(entry, parts, _logps(5.0))  # lost the race: theirs is kept
    assert load(entry, parts, data)["ref_chosen_logps"] == [0.0, -1.0, -2.0]
    with caplog.at_level(logging.WARNING):
        assert load(entry, parts, data.select([0, 1])) is None
    assert "rows" in caplog.text


def test_a_damaged_entry_is_recomputed_and_replaced(tmp_path, caplog, capsys, monkeypatch):
    data, parts = Dataset.from_list(ROWS), _parts()
    entry = entry_dir(tmp_path, parts)
    assert store(entry, parts, _logps())
    (next((entry / "columns").glob("*.arrow"))).write_bytes(b"not arrow")
    calls = []

    def compute():
        calls.append(1)
        return Dataset.from_list(ROWS).add_column("ref_chosen_logps", [7.0, 8.0, 9.0])

    model = _model()
    monkeypatch.setattr(ref_cache, "key_parts", lambda *args: parts)  # the key of the entry just damaged
    with caplog.at_level(logging.WARNING):
        result, info = cached_reference(data, compute, tmp_path, "test", model, IDS, {})
    assert "unusable" in caplog.text and calls == [1] and info["ref_cache/hit"] == 0.0
    assert result["ref_chosen_logps"] == [7.0, 8.0, 9.0]
    result, info = cached_reference(data, compute, tmp_path, "test", model, IDS, {})  # replaced: now a hit
    assert calls == [1] and info["ref_cache/hit"] == 1.0 and result["ref_chosen_logps"] == [7.0, 8.0, 9.0]
    assert "cache hit" in capsys.readouterr().out


def test_an_unwritable_cache_warns_and_the_run_goes_on(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING):
        result, info = cached_reference(Dataset.from_list(ROWS), lambda: Dataset.from_list(ROWS).add_column(
            "ref_chosen_logps", [1.0, 2.0, 3.0]), blocker, "test", _model(), IDS, {})  # fmt: skip
    assert result["ref_chosen_logps"] == [1.0, 2.0, 3.0] and info["ref_cache/hit"] == 0.0
    assert "could not store" in caplog.text


def test_every_setting_is_part_of_the_key():
    data, model = Dataset.from_list(ROWS), _model()
    parts = ref_cache.key_parts("test", model, data, IDS, {"max_length": 64, "batch_size": 4})
    assert parts["settings"] == {"batch_size": 4, "max_length": 64} and parts["rows"] == 3
    assert parts["reference"] == reference_fingerprint(model) and parts["data"] == data_fingerprint(data, IDS)
    for other in ({"max_length": 32, "batch_size": 4}, {"max_length": 64, "batch_size": 8}, {"max_length": 64}):
        assert ref_cache.cache_key(ref_cache.key_parts("test", model, data, IDS, other)) != ref_cache.cache_key(parts)


def _race(entry, parts, start, offset, results):
    start.wait()  # every racer leaves the barrier together
    results.put((offset, store(entry, parts, _logps(offset))))


def test_racing_jobs_that_store_one_entry_all_end_with_the_same_complete_entry(tmp_path):
    """Sweep jobs that compute the same entry at once (here four processes, released together, ten rounds): each
    store reports the entry there, exactly one writer's columns are in it, complete, and no temporary folder is
    left."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    data, parts = Dataset.from_list(ROWS), _parts()
    for round_ in range(10):
        entry = entry_dir(tmp_path / str(round_), parts)
        start, results = context.Barrier(4), context.Queue()
        racers = [context.Process(target=_race, args=(entry, parts, start, float(i), results)) for i in range(4)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(timeout=120)
        assert all(racer.exitcode == 0 for racer in racers)
        stored = [results.get(timeout=10) for _ in racers]
        assert all(ok for _, ok in stored), stored
        loaded = load(entry, parts, data)
        assert loaded is not None and len(loaded) == len(ROWS)
        chosen = loaded["ref_chosen_logps"]
        assert chosen in [_logps(float(i))["ref_chosen_logps"] for i in range(4)]  # one writer's, whole
        assert loaded["ref_rejected_logps"] == _logps(chosen[0])["ref_rejected_logps"]
        assert [p.name for p in entry.parent.iterdir()] == [entry.name]
