"""Hub sentence datasets for contrastive objectives, read in their published schema (source=nli, stsb, wiki1m).

- `nli` (`sentence-transformers/all-nli`, subset `triplet`): `anchor`, `positive` (an entailment),
  `negative` (a contradiction); splits `train`, `dev`, `test` -> SentencePair with a hard negative.
- `stsb` (`sentence-transformers/stsb`): `sentence1`, `sentence2`, `score` (already scaled to [0, 1]);
  splits `train`, `validation`, `test`. As training data only the pairs with `score >=
  data.positive_threshold` are kept, as SentencePair(anchor=sentence1, positive=sentence2) with no
  negative (the batch gives the negatives); the rest are dropped. The same schema is the `stsb`
  benchmark (`data.benchmarks`), which keeps every pair and its score.
- `wiki1m` (`princeton-nlp/datasets-for-simcse`, the file `wiki1m_for_simcse.txt`): one sentence a line
  (SimCSE's unsupervised training set, a `text` column once loaded); one split, `train` -> Sentence.

`data.path` is the hub id, a local file in the same schema (.jsonl, .json, .csv or .parquet; for wiki1m
also .txt, one sentence a line), which is one split, or a local folder read by `datasets.load_dataset`
(a snapshot of the hub repository). `data.columns` renames the schema's columns: nli anchor / positive
/ negative, stsb text1 / text2 / score, wiki1m text. As in `data.hub`, a record that cannot be read
(an empty sentence, say) is skipped and counted in a warning, unless data.on_bad_record=error.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from contrastlab.data.files import Origin, Row, file_kind
from contrastlab.data.pair_formats import FORMATS
from contrastlab.data.hub import dataset_rows, is_local
from contrastlab.data.records import ScoredPair, Sentence, SentencePair
from contrastlab.data.sentences import is_txt, parse_records, read_any, text_columns
from contrastlab.errors import UserError


@dataclass(frozen=True)
class TextSchema:
    """How one hub dataset's columns become sentence records."""

    hub_id: str
    record: str  # the record type its rows are parsed as (stsb: ScoredPair, then filtered to SentencePair)
    splits: tuple[str, ...]
    columns: dict = field(default_factory=dict)  # our field -> column
    config: str | None = None  # the hub dataset's subset (`name` of load_dataset)
    data_files: str | None = None  # the one file of the hub repository that is read


TEXT_SCHEMAS = {
    "nli": TextSchema(
        hub_id="sentence-transformers/all-nli",
        record=SentencePair.__name__,
        splits=("train", "dev", "test"),
        columns={"anchor": "anchor", "positive": "positive", "negative": "negative", "group": "group"},
        config="triplet",
    ),
    "stsb": TextSchema(
        hub_id="sentence-transformers/stsb",
        record=ScoredPair.__name__,
        splits=("train", "validation", "test"),
        columns={"text1": "sentence1", "text2": "sentence2", "score": "score", "group": "group"},
    ),
    "wiki1m": TextSchema(
        hub_id="princeton-nlp/datasets-for-simcse",
        record=Sentence.__name__,
        splits=("train",),
        columns={"text": "text", "group": "group"},
        data_files="wiki1m_for_simcse.txt",
    ),
}
NATIVE = {"nli": SentencePair.__name__, "stsb": SentencePair.__name__, "wiki1m": Sentence.__name__}


def looks_local(path: str) -> bool:
    """Whether a path reads as a local file or folder rather than a hub id ("owner/name")."""
    return file_kind(path) is not None or is_txt(path) or path.startswith((".", "/", "~"))


def check_local(path: str, source: str, option: str = "data.path") -> None:
    """A local path in a text schema: it exists, and a file has a kind we read."""
    local = os.path.expanduser(path)
    kinds = ".jsonl, .json, .csv, .parquet" + (" or .txt" if TEXT_SCHEMAS[source].record == "Sentence" else "")
    if not os.path.exists(local):
        raise UserError(f"{option}={path}: no such file; pass an existing {kinds} file in the {source} schema, "
                        f"or the hub id ({option}={TEXT_SCHEMAS[source].hub_id})")
    if os.path.isfile(local) and file_kind(local) is None and not (is_txt(local) and "txt" in kinds):
        raise UserError(f"{option}={path}: unknown file type; use a {kinds} file in the {source} schema")


def check_text_hub(source: str, path: str | None, split: str, eval_split: str | None, fmt: str) -> None:
    """Cheap checks of data.path, data.split, data.eval_split and data.format for a text hub source."""
    schema = TEXT_SCHEMAS[source]
    if not path:
        raise UserError(f"data.path is required for data.source={source}: the hub id (data.path={schema.hub_id}) "
                        "or a local file in its schema (data.path=FILE)")
    if is_local(path) or looks_local(path):
        check_local(path, source)
    if fmt != "auto":
        raise UserError(f"data.format={fmt} applies to preference data ({', '.join(FORMATS[1:])}); data.source="
                        f"{source} is read in its own schema: drop data.format")
    if source == "wiki1m" and (split != "train" or eval_split is not None):
        option, value = ("data.split", split) if split != "train" else ("data.eval_split", eval_split)
        raise UserError(f"{option}={value}: data.source=wiki1m is one file, one split (train); drop {option} and "
                        "hold out data.eval_fraction of it instead")


def _load_args(schema: TextSchema, path: str, local_folder: bool) -> dict[str, Any]:
    """What `load_dataset` needs besides the path and split: the subset, or the one file to read."""
    args: dict[str, Any] = {}
    if schema.data_files and (not local_folder or os.path.isfile(os.path.join(path, schema.data_files))):
        args["data_files"] = schema.data_files
    if schema.config and not local_folder:
        args["name"] = schema.config
    elif schema.config and os.path.isdir(os.path.join(path, schema.config)):
        # a snapshot with its README names the subset; a bare folder of the subset's files is read as data_dir
        has_card = os.path.isfile(os.path.join(path, "README.md"))
        args["name" if has_card else "data_dir"] = schema.config
    return args


def text_rows(source: str, path: str, split: str, option: str = "data.split", path_option: str = "data.path",
              strict: bool = False, tally: Counter | None = None) -> tuple[list[Row], Origin]:
    """The rows of one split of a text hub dataset (a local file is its one split), and where they came from (an
    Origin that skips bad records, or stops at them when `strict`)."""
    local = os.path.expanduser(path)
    if os.path.isfile(local):
        origin = Origin(path, strict, tally)
        return read_any(local, origin), origin
    schema, folder = TEXT_SCHEMAS[source], os.path.isdir(local)
    rows = dataset_rows(local if folder else path, split, source=source, splits=schema.splits, option=option,
                        local_folder=folder, path_option=path_option, **_load_args(schema, local, folder))
    return rows, Origin(f"{path} split {split}", strict, tally)


def positives(pairs: list[ScoredPair], threshold: float, origin: str) -> list[SentencePair]:
    """The scored pairs at or above `threshold`, as SentencePair(anchor=text1, positive=text2), group kept."""
    kept = [SentencePair(anchor=p.text1, positive=p.text2, group=p.group) for p in pairs if p.score >= threshold]
    if not kept:
        top = max(p.score for p in pairs)
        raise UserError(f"{origin}: no pair scores at least data.positive_threshold={threshold} (the highest is "
                        f"{top:g}); lower data.positive_threshold")
    return kept


def load_text_split(source: str, path: str, split: str, columns: dict | None, threshold: float = 0.8,
                    option: str = "data.split", strict: bool = False, tally: Counter | None = None) -> list:
    """Records of one split of a text hub dataset (or of a local copy in its schema): Sentence or SentencePair. A
    record it cannot read is skipped and counted (also in `tally`), or stops the run when `strict`."""
    schema = TEXT_SCHEMAS[source]
    rows, origin = text_rows(source, path, split, option, strict=strict, tally=tally)
    records = parse_records(rows, schema.record, text_columns(columns, schema.columns), origin)
    if schema.record == ScoredPair.__name__:
        return positives(records, threshold, origin.name)
    return records
