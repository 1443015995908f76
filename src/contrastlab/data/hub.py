"""Hub preference datasets, read in their published schema (source=hh_rlhf, source=ultrafeedback).

- `hh_rlhf` (`Anthropic/hh-rlhf`): columns `chosen`, `rejected`, each a whole "\\n\\nHuman: ...\\n\\nAssistant:
  ..." transcript; splits `train`, `test`. Parsed as the transcript format.
- `ultrafeedback` (`HuggingFaceH4/ultrafeedback_binarized`): `prompt`, `prompt_id`, `chosen` and `rejected`
  (message lists that include the user turn), `messages`, `score_chosen`, `score_rejected`; splits
  `train_prefs`, `test_prefs`. The prompt is the messages chosen and rejected share; the scores are kept;
  `prompt_id` is the group.

`data.path` is a hub id, or a local file or folder in the same schema. A folder goes through
`datasets.load_dataset(folder, split=...)` (a snapshot of the hub repository, or `train.jsonl` and
`test.jsonl`); a single file is one split. Records the schema's format cannot read (an HH transcript
with an empty final reply, say) are skipped and counted in a warning rather than stopping the run, unless
data.on_bad_record=error.

When the hub's host does not resolve, the hub libraries are switched offline for the call: a dataset in
the local HF cache still loads, anything else fails at once (not after ~25 s of retries) with a
UserError saying to pass a local file in the schema. `dataset_rows` is shared with `data.hub_text`.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from contrastlab.data.files import Origin, Row, file_kind, read_rows
from contrastlab.data.pair_formats import field_columns, parse_pairs
from contrastlab.data.records import PreferencePair
from contrastlab.errors import UserError
from contrastlab.network import hub_reachable


@dataclass(frozen=True)
class HubSchema:
    """How one hub dataset's columns become PreferencePair records."""

    hub_id: str
    format: str
    splits: tuple[str, ...]
    columns: dict = field(default_factory=dict)  # our field -> column; a None column is not read


SCHEMAS = {
    "hh_rlhf": HubSchema(
        hub_id="Anthropic/hh-rlhf",
        format="transcript",
        splits=("train", "test"),
        columns={"chosen": "chosen", "rejected": "rejected", "group": "group"},
    ),
    "ultrafeedback": HubSchema(
        hub_id="HuggingFaceH4/ultrafeedback_binarized",
        format="conversational",
        splits=("train_prefs", "test_prefs"),
        columns={"prompt": None, "chosen": "chosen", "rejected": "rejected", "score_chosen": "score_chosen",
                 "score_rejected": "score_rejected", "group": "prompt_id"},
    ),
}


def is_local(path: str) -> bool:
    """Whether data.path names something on this machine (else it is a hub id)."""
    return os.path.exists(os.path.expanduser(path))


def looks_like_file(path: str) -> bool:
    """Whether data.path reads as a local path rather than a hub id ("owner/name")."""
    return file_kind(path) is not None or path.startswith((".", "/", "~"))


def load_split(source: str, path: str, split: str, columns: dict | None, option: str = "data.split",
               strict: bool = False, tally: Counter | None = None) -> list[PreferencePair]:
    """PreferencePair records of one split of a hub dataset (or of a local copy in its schema). A record it cannot
    read is skipped and counted (also in `tally`), or stops the run when `strict` (data.on_bad_record=error)."""
    schema = SCHEMAS[source]
    cols = field_columns(columns, schema.columns)
    local = os.path.expanduser(path)
    if os.path.isfile(local):
        origin = Origin(path, strict, tally)
        return parse_pairs(read_rows(local, origin), schema.format, cols, origin)
    rows = _load_dataset_rows(source, path, split, option, local_folder=os.path.isdir(local))
    return parse_pairs(rows, schema.format, cols, Origin(f"{path} split {split}", strict, tally))


def _load_dataset_rows(source: str, path: str, split: str, option: str, local_folder: bool) -> list[Row]:
    return dataset_rows(path, split, source=source, splits=SCHEMAS[source].splits, option=option,
                        local_folder=local_folder)


def _unreachable() -> bool:
    """Whether the hub would be asked (not offline already) but its host does not resolve."""
    import datasets.config

    return not datasets.config.HF_HUB_OFFLINE and not hub_reachable()


@contextlib.contextmanager
def _offline(on: bool):
    """Within: the hub libraries offline when `on` (a dataset in the local HF cache still loads)."""
    import datasets.config
    import huggingface_hub.constants

    saved = datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE
    if on:
        datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved


def dataset_rows(path: str, split: str, *, source: str, splits: tuple[str, ...], option: str = "data.split",
                 local_folder: bool = False, path_option: str = "data.path", **load_args: Any) -> list[Row]:
    """Rows of one split through `datasets.load_dataset` (a hub id or a local folder); `load_args` go to it
    (`name` for a config, `data_files`, `data_dir`). Any failure is a UserError saying what to pass instead;
    `option` and `path_option` are the config keys those messages name."""
    import datasets

    forced_offline = not local_folder and _unreachable()
    try:
        with _offline(forced_offline):
            dataset = datasets.load_dataset(os.path.expanduser(path) if local_folder else path, split=split,
                                            **load_args)
    except Exception as err:  # noqa: BLE001 -- any failure of the loader is the user's to fix
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "split" in detail.lower() and "unknown" in detail.lower():
            raise UserError(f"{option}={split}: {path} has no such split ({detail}); {source} splits are "
                            f"{', '.join(splits)}") from None
        if local_folder:
            raise UserError(f"{path_option}={path}: cannot load split {split} from this folder ({detail}); pass a "
                            f"local .jsonl/.parquet file in the {source} schema with {path_option}=FILE") from None
        if forced_offline:
            detail = "the hub's host does not resolve from here, and the dataset is not in the local HF cache"
        raise UserError(f"{path_option}={path}: cannot load split {split} from the Hugging Face hub ({detail}); the "
                        f"hub is unreachable or the name is wrong: pass a local file in the {source} schema "
                        f"with {path_option}=FILE") from None
    return [Row(f"row {number}", values) for number, values in enumerate(dataset.to_list(), 1)]
