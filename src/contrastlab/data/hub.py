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
with an empty final reply, say) are skipped and counted in a warning rather than stopping the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from contrastlab.data.files import Origin, Row, field_columns, file_kind, parse_pairs, read_rows
from contrastlab.data.records import PreferencePair
from contrastlab.errors import UserError


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


def load_split(source: str, path: str, split: str, columns: dict | None,
               option: str = "data.split") -> list[PreferencePair]:
    """PreferencePair records of one split of a hub dataset (or of a local copy in its schema)."""
    schema = SCHEMAS[source]
    cols = field_columns(columns, schema.columns)
    local = os.path.expanduser(path)
    if os.path.isfile(local):
        return parse_pairs(read_rows(local), schema.format, cols, Origin(path, strict=False))
    rows = _load_dataset_rows(source, path, split, option, local_folder=os.path.isdir(local))
    return parse_pairs(rows, schema.format, cols, Origin(f"{path} split {split}", strict=False))


def _load_dataset_rows(source: str, path: str, split: str, option: str, local_folder: bool) -> list[Row]:
    import datasets

    try:
        dataset = datasets.load_dataset(os.path.expanduser(path) if local_folder else path, split=split)
    except Exception as err:  # noqa: BLE001 -- any failure of the loader is the user's to fix
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "split" in detail.lower() and "unknown" in detail.lower():
            raise UserError(f"{option}={split}: {path} has no such split ({detail}); {source} splits are "
                            f"{', '.join(SCHEMAS[source].splits)}") from None
        if local_folder:
            raise UserError(f"data.path={path}: cannot load split {split} from this folder ({detail}); "
                            f"pass a local .jsonl/.parquet file in the {source} schema with data.path=FILE") from None
        raise UserError(f"data.path={path}: cannot load split {split} from the Hugging Face hub ({detail}); the hub "
                        f"is unreachable or the name is wrong: pass a local file in the {source} schema "
                        "with data.path=FILE") from None
    return [Row(f"row {number}", values) for number, values in enumerate(dataset.to_list(), 1)]
