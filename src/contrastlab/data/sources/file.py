"""file: your own file of records, `data.path=FILE` (.jsonl, .json, .csv, .parquet; .txt: one sentence a line).

The first row decides the record type (`data.records.detect`: each type says which columns make its records, e.g.
prompt/chosen/rejected -> preference pairs, text -> sentences), read alone before anything loads. `data.format`
names the format of preference pairs (standard, conversational, transcript) and makes the file preference pairs;
`data.columns` maps our fields to the file's columns. `data.eval_fraction` of the groups (the group column, else
the prompt, the anchor or the text) is held out, seeded by `data.split_seed`, as the record type splits. A record
that cannot be read stops the run by default, naming the file, the line and the fix (data.on_bad_record=error).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from contrastlab.data.cells import column_map
from contrastlab.data.files import Origin, file_kind, is_txt, no_records, peek_columns, read_any
from contrastlab.data.records import detect, file_fields
from contrastlab.data.records.preference_pair import PreferencePair
from contrastlab.data.source import Source
from contrastlab.distributed import is_main
from contrastlab.errors import UserError

KINDS = ".jsonl, .json, .csv, .parquet or .txt"


@dataclass(frozen=True, kw_only=True)
class FileSource(Source):
    bad_records: str = "error"

    def check(self, cfg) -> None:
        path = cfg.path
        if not path:
            raise UserError("data.path is required for data.source=file: pass data.path=FILE "
                            "(.jsonl, .json, .csv, .parquet, or .txt with one sentence a line)")
        local = os.path.expanduser(path)
        if not os.path.exists(local):
            raise UserError(f"data.path={path}: no such file; pass an existing {KINDS} file for data.source=file")
        if os.path.isdir(local):
            raise UserError(f"data.path={path} is a folder; data.source=file reads one {KINDS} file")
        if file_kind(local) is None and not is_txt(local):
            raise UserError(f"data.path={path}: unknown file type; use a {KINDS} file")
        if cfg.eval_split is not None:
            raise UserError(f"data.eval_split={cfg.eval_split} names a hub split, but data.source=file reads one file "
                            "and holds out data.eval_fraction of its groups; drop data.eval_split "
                            "(data.eval_split=null)")
        if cfg.split != "train":
            raise UserError(f"data.split={cfg.split} names a hub split, but data.source=file reads the whole file; "
                            "drop data.split")
        if is_txt(path) and cfg.format != "auto":
            raise UserError(f"data.format={cfg.format} reads preference files, but data.path={path} is one sentence "
                            "a line; drop data.format")

    def _cols(self, cfg) -> dict:
        return column_map(file_fields(), cfg.columns)

    def record_type(self, cfg) -> type:
        """Preference pairs with data.format set; else what the file's first row says (read alone)."""
        if cfg.format != "auto":
            return PreferencePair
        self.check(cfg)
        origin = Origin(cfg.path, strict=self.strict(cfg))
        return detect(peek_columns(os.path.expanduser(cfg.path), origin), self._cols(cfg), origin, PreferencePair)

    def load(self, cfg, strict: bool, tally: Counter) -> tuple[list, list]:
        origin, path = Origin(cfg.path, strict, tally), os.path.expanduser(cfg.path)
        rows = read_any(path, origin)
        if not rows:
            raise no_records(origin, "records", "check the file")
        cols = self._cols(cfg)
        record = PreferencePair if cfg.format != "auto" else detect(rows[0], cols, origin, PreferencePair)
        if is_main():
            kind = "text (one record a line)" if is_txt(path) else file_kind(path)
            how = "data.format=" + str(cfg.format) if cfg.format != "auto" else "detected from its columns"
            print(f"Data: {cfg.path}: a {kind} file of {len(rows)} rows, read as {record.__name__} records ({how})",
                  flush=True)  # fmt: skip
        records = record.parse(rows, cols, origin, cfg.format)
        return record.split(records, cfg.eval_fraction, cfg.split_seed, cfg.name or self.name, cfg.max_train,
                            cfg.max_eval)


SOURCE = FileSource(name="file", record=None, summary="a local .jsonl, .json, .csv, .parquet or .txt file")
