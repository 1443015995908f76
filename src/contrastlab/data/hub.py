"""Hub datasets read in their published schema: one source type, `HubSource`, for every hub source.

`data.path` is the hub id, a local file in the same schema (one split; .jsonl, .json, .csv, .parquet, the text ones
may be .gz, and .txt for a source of sentences), or a local folder read by `datasets.load_dataset` (a snapshot of
the hub repository, or train.jsonl and test.jsonl). The held-out set is `data.eval_split` where there is one;
with one file (one split) `data.eval_fraction` of its groups is held out instead. A record the schema cannot read
is skipped and counted in a warning rather than stopping the run, unless data.on_bad_record=error.

When the hub's host does not resolve, the hub libraries are switched offline for the call: a dataset in the local HF
cache still loads, anything else fails at once (not after ~25 s of retries) with a UserError saying to pass a local
file in the schema.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from contrastlab.data.cells import column_map
from contrastlab.data.files import Origin, Row, file_kind, is_txt, read_any
from contrastlab.data.source import Source
from contrastlab.data.splits import subsample
from contrastlab.errors import UserError
from contrastlab.network import hub_reachable

log = logging.getLogger(__name__)


def looks_local(path: str) -> bool:
    """Whether a path reads as a local file or folder rather than a hub id ("name" or "owner/name": never two '/')."""
    return file_kind(path) is not None or is_txt(path) or path.startswith((".", "/", "~")) or path.count("/") > 1


@dataclass(frozen=True, kw_only=True)
class HubSource(Source):
    """One hub dataset and how its rows become records: `parse(rows, cols, origin, cfg)`, by default the record
    type's own parser in the pair format `fmt`."""

    hub_id: str
    splits: tuple[str, ...]
    columns: dict = field(default_factory=dict)  # our field -> the schema's column (a None column is not read)
    fmt: str | None = None  # the preference-pair format of its rows (data.format may name it); None: not pairs
    renames: bool = True  # data.columns may rename the schema's columns; False: read as published
    subset: str | None = None  # the hub dataset's config (`name` of load_dataset)
    data_files: str | None = None  # the one file of the hub repository that is read
    txt: bool = False  # a local .txt file (one sentence a line) is a file of this schema too
    parse: Callable[..., list] | None = None  # (rows, cols, origin, cfg) -> records; None: record.parse
    bad_records: str = "skip"

    # -- checks -----------------------------------------------------------------------------------------------
    def kinds(self) -> str:
        return ".jsonl, .json, .csv, .parquet" + (" or .txt" if self.txt else "")

    def check_path(self, path: str | None, option: str = "data.path") -> None:
        """A path that reads as local exists and, if a file, is of a kind read here."""
        if not path:
            raise UserError(f"{option} is required for data.source={self.name}: the hub id ({option}={self.hub_id}) "
                            f"or a local file in its schema ({option}=FILE)")
        local = os.path.expanduser(path)
        if os.path.exists(local) or looks_local(path):
            if not os.path.exists(local):
                raise UserError(f"{option}={path}: no such file; pass an existing {self.kinds()} file in the "
                                f"{self.name} schema, or the hub id ({option}={self.hub_id})")
            if os.path.isfile(local) and file_kind(local) is None and not (is_txt(local) and self.txt):
                raise UserError(f"{option}={path}: unknown file type; use a {self.kinds()} file in the {self.name} "
                                "schema")

    def check(self, cfg) -> None:
        self.check_path(cfg.path)
        if cfg.format != "auto" and cfg.format != self.fmt:
            what = f"is in the {self.fmt} format" if self.fmt else f"is read in the {self.hub_id} schema as published"
            raise UserError(f"data.format={cfg.format}: data.source={self.name} {what}; drop data.format, or read "
                            "your own file with data=jsonl")
        if not self.renames and dict(cfg.columns):
            raise UserError(f"data.columns={dict(cfg.columns)}: data.source={self.name} is read in the {self.hub_id} "
                            "schema as published; drop data.columns, or read your own file with data=jsonl")
        if len(self.splits) == 1 and (cfg.split != self.splits[0] or cfg.eval_split is not None):
            option, value = ("data.split", cfg.split) if cfg.split != self.splits[0] else \
                ("data.eval_split", cfg.eval_split)
            raise UserError(f"{option}={value}: {self.hub_id} has one split ({self.splits[0]}); drop {option} and hold "
                            "out data.eval_fraction of it instead")

    # -- loading ----------------------------------------------------------------------------------------------
    def rows(self, path: str, split: str, strict: bool = False, tally: Counter | None = None,
             option: str = "data.split", path_option: str = "data.path") -> tuple[list[Row], Origin]:
        """The rows of one split (a local file is its one split), and where they came from."""
        local = os.path.expanduser(path)
        if os.path.isfile(local):
            origin = Origin(path, strict, tally)
            return read_any(local, origin), origin
        folder = os.path.isdir(local)
        rows = dataset_rows(local if folder else path, split, source=self.name, splits=self.splits, option=option,
                            local_folder=folder, path_option=path_option, **self._load_args(local, folder))
        return rows, Origin(f"{path} split {split}", strict, tally)

    def _load_args(self, path: str, local_folder: bool) -> dict[str, Any]:
        """What `load_dataset` needs besides the path and split: the subset, or the one file to read."""
        args: dict[str, Any] = {}
        if self.data_files and (not local_folder or os.path.isfile(os.path.join(path, self.data_files))):
            args["data_files"] = self.data_files
        if self.subset and not local_folder:
            args["name"] = self.subset
        elif self.subset and os.path.isdir(os.path.join(path, self.subset)):
            # a snapshot with its README names the subset; a bare folder of the subset's files is read as data_dir
            has_card = os.path.isfile(os.path.join(path, "README.md"))
            args["name" if has_card else "data_dir"] = self.subset
        return args

    def records(self, cfg, split: str, strict: bool, tally: Counter | None, option: str = "data.split") -> list:
        """The records of one split."""
        rows, origin = self.rows(cfg.path, split, strict, tally, option)
        cols = column_map(self.record.fields, cfg.columns if self.renames else None, self.columns or None)
        if self.parse is not None:
            return self.parse(rows, cols, origin, cfg)
        return self.record.parse(rows, cols, origin, self.fmt or "auto")

    def load(self, cfg, strict: bool, tally: Counter) -> tuple[list, list]:
        """`data.split` and `data.eval_split` of the dataset; with one file (one split), the record type's split
        of it (`data.eval_fraction` of its groups held out)."""
        train = self.records(cfg, cfg.split, strict, tally)
        if cfg.eval_split is not None and not os.path.isfile(os.path.expanduser(cfg.path)):
            evals = self.records(cfg, cfg.eval_split, strict, tally, option="data.eval_split")
            seed = cfg.split_seed
            return subsample(train, cfg.max_train, seed, "train"), subsample(evals, cfg.max_eval, seed, "eval")
        if cfg.eval_split is not None:
            log.info("data.path=%s is one file, so one split: holding out data.eval_fraction=%s of its groups "
                     "instead of data.eval_split=%s", cfg.path, cfg.eval_fraction, cfg.eval_split)
        return self.record.split(train, cfg.eval_fraction, cfg.split_seed, cfg.name or self.name, cfg.max_train,
                                 cfg.max_eval)


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
