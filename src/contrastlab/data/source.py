"""What every data source is: a name, the record type it gives, its cheap checks, and how it loads.

A module of `contrastlab.data.sources` exports `SOURCE`, an instance of `Source` (or of `PackagedSource` or
`hub.HubSource`); `contrastlab.data.sources.discover()` finds them. `load(cfg, strict, tally)` returns the
(train, held-out) records, split and subsampled; the same config always gives the same records. `check(cfg)` runs
before anything loads and raises a UserError naming the option and the fix.

A record that cannot be read follows `data.on_bad_record`: `error` stops the run at the first one (naming the file,
line and field), `skip` skips and counts it; null means the source's own default (`bad_records`: `error` for your
own files, `skip` for hub datasets, which hold a few broken rows).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from contrastlab.errors import UserError


@dataclass(frozen=True, kw_only=True)
class Source(ABC):
    """A data source (`data.source=<name>`)."""

    name: str  # data.source; the module's name
    record: type | None  # the record type it gives; None: the data decides (a file's first row)
    summary: str  # one line: what it is, for messages and the docs
    bad_records: str = "skip"  # what data.on_bad_record=null means here: error | skip
    options: frozenset = frozenset()  # the data.* options only some sources read, that this one reads

    def record_type(self, cfg) -> type:
        """The record type this source gives for `cfg` (before any adapter)."""
        return self.record

    def strict(self, cfg) -> bool:
        """Whether a record that cannot be read stops the run (data.on_bad_record, else this source's default)."""
        return (cfg.on_bad_record or self.bad_records) == "error"

    def check(self, cfg) -> None:
        """Cheap checks of this source's options; nothing loads."""

    @abstractmethod
    def load(self, cfg, strict: bool, tally: Counter) -> tuple[list, list]:
        """(train, held-out) records of the source's type, split and subsampled; a record that cannot be read stops
        the run (`strict`) or is skipped and counted in `tally` (reason -> count)."""


UNUSED = ("path", "eval_split", "columns", "format", "split")  # what a packaged source refuses to be given


@dataclass(frozen=True, kw_only=True)
class PackagedSource(Source):
    """A fixed set of records that ships with an installed package: `read(cfg)` gives them all, the record type's
    split holds out `data.eval_fraction` of the groups."""

    read: Callable[[Any], list]  # cfg -> every record, before the split
    files: Callable[[], Any]  # raises a UserError when the package or its files are missing
    what: str  # "a fixed set of Rotten Tomatoes pairs split by data.eval_fraction", for messages

    def check(self, cfg) -> None:
        given = {"data.path": cfg.path, "data.eval_split": cfg.eval_split, "data.columns": dict(cfg.columns) or None,
                 "data.format": None if cfg.format == "auto" else cfg.format,
                 "data.split": None if cfg.split == "train" else cfg.split}  # fmt: skip
        for option, value in given.items():
            if value is not None:
                raise UserError(f"{option}={value} does not apply to data.source={self.name} ({self.what}); drop it, "
                                "or use data=jsonl for your own file")
        self.files()

    def load(self, cfg, strict: bool, tally: Counter) -> tuple[list, list]:
        return self.record.split(self.read(cfg), cfg.eval_fraction, cfg.split_seed, cfg.name or self.name,
                                 cfg.max_train, cfg.max_eval)
