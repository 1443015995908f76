"""A shared, on-disk cache of precomputed reference log-probs (`objective.precompute_ref` with `train.ref_cache`).

A sweep over beta, or over objectives that share a reference policy and data, computes the reference log-probs
once: the first job stores the columns the precompute adds (`ref_chosen_logps`, `ref_rejected_logps` for TRL's
DPOTrainer; `ref_logps` and `ref_KL_logps` for KTOTrainer; `ref_logps` for our PreferenceTrainer) under
`<cache_dir>/ref_logps/<key>/`, and every later job or run that matches loads them instead of running the
reference forward pass. The key hashes everything the numbers depend on:

| part | what | misses when |
|---|---|---|
| trainer | `trl.DPOTrainer`, `trl.KTOTrainer`, `contrastlab.PreferenceTrainer` | another trainer computes them |
| reference | `reference_fingerprint`: the weights the reference computes with (no | another model, another seed |
| | LoRA adapters), their dtypes, the architecture's config | (random-initialised models), dtype |
| data | `data_fingerprint`: the columns the reference forward consumes (token ids) | other data or tokenisation |
| settings | max length, truncation, padding, precision, device type, batch size, KTO's KL | any of them changes |
| versions | torch, transformers, TRL, contrastlab | an upgrade |

An entry is a folder holding `key.json` (the parts, for a human to see why it matched) and `columns/` (a
`datasets.Dataset` of the new columns only, `save_to_disk`). Entries are written to a temporary folder beside
them and renamed into place, so a killed or concurrent job never leaves half an entry; where two jobs race, the
first rename wins and the other keeps its own result. An entry that fails to load is reported and recomputed:
the cache never stops a run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the layout of an entry or the meaning of a key part changes
_CONFIG_IGNORED = {  # config fields that never change the reference's numbers (or differ between copies of it)
    "_name_or_path", "name_or_path", "transformers_version", "architectures", "use_cache", "torch_dtype", "dtype",
    "output_attentions", "output_hidden_states", "return_dict", "id2label", "label2id", "_commit_hash",
}  # fmt: skip


def resolve_cache_dir(configured: Optional[str]) -> Path:
    """The cache root: `cache_dir` from the config, else `$CONTRASTLAB_CACHE`, else `~/.cache/contrastlab`."""
    root = configured or os.environ.get("CONTRASTLAB_CACHE") or Path.home() / ".cache" / "contrastlab"
    return Path(root).expanduser()


def _hash(*chunks: bytes):
    h = hashlib.blake2b(digest_size=16)
    for chunk in chunks:
        h.update(chunk)
    return h


def _reference_state(model) -> dict:
    """name -> tensor of the weights the reference computes with. For a PEFT model: the base weights under the
    names the plain model gives them (adapter weights dropped; `base_model.model.` and `.base_layer` stripped; a
    module saved for training replaced by its original), so LoRA and a frozen copy of the same base agree."""
    state = model.state_dict()
    if not hasattr(model, "peft_config"):
        return state
    out = {}
    for name, tensor in state.items():
        if "lora_" in name or ".modules_to_save." in name or name.startswith("prompt_encoder."):
            continue
        name = name.removeprefix("base_model.model.").replace(".base_layer", "").replace(".original_module", "")
        out[name] = tensor
    return out


def _config_json(model) -> str:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    if config is None:
        return type(base).__name__
    fields = {k: v for k, v in config.to_dict().items() if k not in _CONFIG_IGNORED}
    fields["_attn_implementation"] = getattr(config, "_attn_implementation", None)
    return json.dumps({"class": type(base).__name__, "config": fields}, sort_keys=True, default=str)


def reference_fingerprint(model) -> str:
    """A hash of the reference's weights (names, shapes, dtypes, bytes) and of its architecture config.

    A PEFT model hashes as its base with the adapters left out, so a LoRA run and a frozen-copy run of the same
    base, and LoRA runs of different seeds, share it. Tied weights are hashed once. blake2b over the raw bytes
    (bf16 and other dtypes numpy lacks are viewed as bytes). Measured on SmolLM2-135M (538 MB in fp32) on a
    2-core CPU: 1.1-1.5 s in fp32, 0.6 s in bf16 (TRL's own sha256 `hash_module` of the same model: 1.3 s).
    """
    import torch

    h = _hash(_config_json(model).encode())
    seen: dict[tuple, str] = {}
    for name, tensor in sorted(_reference_state(model).items()):
        tensor = tensor.detach()
        ident = (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tuple(tensor.stride()))
        header = f"{name}|{tensor.dtype}|{tuple(tensor.shape)}"
        if tensor.numel() and ident in seen:  # a tied weight: the same storage under another name
            h.update(f"{header}|tied to {seen[ident]}\n".encode())
            continue
        seen[ident] = name
        h.update(f"{header}\n".encode())
        if tensor.numel():
            flat = tensor.to("cpu").contiguous().reshape(-1)
            if flat.dtype not in (torch.uint8, torch.int8, torch.bool):
                flat = flat.view(torch.uint8)
            h.update(flat.numpy().data)
    return h.hexdigest()


def data_fingerprint(dataset, columns: list[str]) -> str:
    """A hash of the content of `columns` of a `datasets.Dataset`, rows in the dataset's order (an indices mapping
    left by `select`, `filter` or `shuffle` is applied), independent of how the table is chunked and of the
    process: the Arrow IPC stream of the combined columns."""
    import pyarrow as pa

    table = dataset.select_columns(list(columns)).with_format("arrow")[: len(dataset)]
    table = table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return _hash(json.dumps(list(columns)).encode(), sink.getvalue().to_pybytes()).hexdigest()


def versions() -> dict[str, str]:
    """Versions of the libraries that compute the log-probs: an upgrade misses the cache."""
    import torch
    import transformers
    import trl

    import contrastlab

    return {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
            "contrastlab": contrastlab.__version__}  # fmt: skip


def key_parts(trainer: str, model, dataset, columns: list[str], settings: dict) -> dict:
    """Everything the reference log-probs depend on, as a JSON-able mapping."""
    return {
        "format": FORMAT,
        "trainer": trainer,
        "reference": reference_fingerprint(model),
        "data": data_fingerprint(dataset, columns),
        "columns": list(columns),
        "rows": len(dataset),
        "settings": {k: settings[k] for k in sorted(settings)},
        "versions": versions(),
    }


def cache_key(parts: dict) -> str:
    return _hash(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _jsonable(parts: dict) -> dict:
    """`parts` as key.json gives it back."""
    return json.loads(json.dumps(parts, sort_keys=True, default=str))


def entry_dir(root: Path, parts: dict) -> Path:
    return Path(root) / "ref_logps" / cache_key(parts)


def load(entry: Path, parts: dict, dataset):
    """`dataset` with the cached columns added, or None on a miss. A damaged or mismatched entry is a miss, with a
    warning (its folder is replaced when the recomputed columns are stored)."""
    from datasets import concatenate_datasets, load_from_disk

    if not entry.exists():
        return None
    try:
        if _stored_parts(entry) != _jsonable(parts):
            raise ValueError("its key.json does not match this run's key")
        cached = load_from_disk(str(entry / "columns"), keep_in_memory=True)
        if len(cached) != len(dataset):
            raise ValueError(f"it holds {len(cached)} rows, the data {len(dataset)}")
        if set(cached.column_names) & set(dataset.column_names):
            raise ValueError(f"its columns {cached.column_names} are already in the data")
        return concatenate_datasets([dataset, cached], axis=1)
    except Exception as err:  # noqa: BLE001  a cache must never stop a run
        log.warning("reference log-prob cache entry %s is unusable (%s: %s); recomputing", entry,
                    type(err).__name__, err)  # fmt: skip
        return None


def _set_aside(entry: Path) -> None:
    """Move a damaged entry out of the way (atomically, so a concurrent reader never sees half of it), then delete."""
    aside = entry.with_name(f".{entry.name}.damaged-{os.getpid()}")
    try:
        os.rename(entry, aside)
    except OSError:
        return  # gone already (another job moved it)
    shutil.rmtree(aside, ignore_errors=True)


def _stored_parts(entry: Path) -> Optional[dict]:
    try:
        return json.loads((entry / "key.json").read_text())["parts"]
    except Exception:  # noqa: BLE001  missing or damaged
        return None


def store(entry: Path, parts: dict, columns, replace: bool = False) -> bool:
    """Write the new columns (a `datasets.Dataset`) and key.json to `entry` atomically; True when it is there after.
    An entry already there with the same key (another job won the race) is kept, unless `replace` (it failed to
    load); one with another or no key.json is replaced. Failures only warn."""
    tmp = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp-", dir=entry.parent))
        columns.flatten_indices().save_to_disk(str(tmp / "columns"))
        key = {"key": entry.name, "parts": parts, "rows": len(columns), "columns": columns.column_names,
               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
        (tmp / "key.json").write_text(json.dumps(key, indent=2, sort_keys=True, default=str) + "\n")
        if replace:
            _set_aside(entry)
        try:
            os.rename(tmp, entry)
        except OSError:  # an entry is there
            if _stored_parts(entry) == _jsonable(parts):
                return True  # another job won the race: keep theirs
            _set_aside(entry)
            os.rename(tmp, entry)
        tmp = None
        return True
    except Exception as err:  # noqa: BLE001  a cache must never stop a run
        log.warning("could not store reference log-probs in %s (%s: %s)", entry, type(err).__name__, err)
        return False
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def cached_reference(dataset, compute: Callable[[], object], root: Path, trainer: str, model, columns: list[str],
                     settings: dict, main: bool = True):  # fmt: skip
    """`compute()`'s result (the dataset with reference log-prob columns added) from the cache when an entry
    matches, else computed and stored. Only the `main` process stores and prints. Returns (dataset, info), info the
    metrics `ref_cache/hit` (1.0 or 0.0), `ref_cache/seconds` (fingerprints and load, or fingerprints, compute and
    store) and `ref_cache/fingerprint_s`."""
    start = time.perf_counter()
    parts = key_parts(trainer, model, dataset, columns, settings)
    fingerprinted = time.perf_counter()
    entry = entry_dir(root, parts)
    existed = entry.exists()
    result = load(entry, parts, dataset)
    hit = result is not None
    if hit:
        if main:
            print(f"reference log-probs: cache hit ({entry})", flush=True)
    else:
        result = compute()
        new = [c for c in result.column_names if c not in dataset.column_names]
        if main:
            stored = store(entry, parts, result.select_columns(new), replace=existed)
            where = f"cached at {entry}" if stored else "not cached"
            print(f"reference log-probs: computed in {time.perf_counter() - fingerprinted:.1f} s, {where}", flush=True)
    info = {"ref_cache/hit": float(hit), "ref_cache/seconds": time.perf_counter() - start,
            "ref_cache/fingerprint_s": fingerprinted - start}  # fmt: skip
    return result, info


def precompute_preference_reference(trainer, dataset, batch_size: int, root: Path):
    """Our PreferenceTrainer's `precompute_reference(dataset, batch_size)` through the cache (the reference forward
    consumes the `ids` and `starts` columns, cut at the collator's max length); sets `trainer.ref_cache_info`."""
    collator, args = trainer.data_collator, trainer.args
    settings = {"max_length": getattr(collator, "max_length", None), "batch_size": batch_size,
                "pad_token_id": getattr(collator, "pad_token_id", None), "device": trainer.accelerator.device.type,
                "bf16": bool(args.bf16), "fp16": bool(args.fp16)}  # fmt: skip
    model = trainer.ref_model if trainer.ref_model is not None else trainer.accelerator.unwrap_model(trainer.model)
    result, trainer.ref_cache_info = cached_reference(
        dataset, lambda: trainer.precompute_reference(dataset, batch_size), root, "contrastlab.PreferenceTrainer",
        model, ["ids", "starts"], settings, main=trainer.accelerator.is_main_process,
    )
    return result
