"""Record types: one module each (a `Record` subclass), found by importing every module of this package.

`record_types()` lists them; `adapt` and `can_adapt` convert between them through the conversions their modules
register (keyed by class); `detect` reads which type a file holds from its first row; `to_rows` gives the rows of
any records. See `base` for what a record type knows.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from contrastlab.data.records.base import CONVERSIONS, Example, Record, Sequence, converts, messages
from contrastlab.errors import UserError

__all__ = ["Example", "Record", "Sequence", "adapt", "can_adapt", "converts", "detect", "file_fields", "messages",
           "record_types", "to_rows"]


@functools.lru_cache(maxsize=1)
def record_types() -> tuple[type, ...]:
    """Every record type of this package (importing its modules registers their conversions), by name."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    found: dict[str, type] = {}
    stack = list(Record.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls.__module__.startswith(__name__ + "."):
            found[cls.__name__] = cls
        stack += cls.__subclasses__()
    return tuple(found[name] for name in sorted(found))


def can_adapt(source: type, target: type) -> bool:
    """Whether records of type `source` can feed an objective that needs `target` records."""
    record_types()
    return source is target or (source, target) in CONVERSIONS


def adapt(records: list, target: type, data_name: str = "") -> list:
    """Records converted to the type `target`; identity when they already are."""
    if not records:
        return []
    source = type(records[0])
    if source is target:
        return list(records)
    if can_adapt(source, target):
        return CONVERSIONS[(source, target)](records)
    reachable = sorted({source.__name__} | {to.__name__ for (frm, to) in CONVERSIONS if frm is source})
    givers = sorted({frm.__name__ for (frm, to) in CONVERSIONS if to is target} | {target.__name__})
    raise UserError(
        f"objective needs {target.__name__} records but data={data_name or '?'} gives {source.__name__}; choose data "
        f"that gives {' or '.join(givers)} records, or an objective that takes {' or '.join(reachable)}"
    )


def to_rows(records: list, conversational: bool) -> list[dict]:
    """One dict per record, in order, as its type writes rows (see each type's module for the columns)."""
    return type(records[0]).rows(records, conversational) if records else []


def file_fields() -> tuple[str, ...]:
    """Every field a file's columns may be mapped to (`data.columns` keys), over every record type."""
    return tuple(dict.fromkeys(name for cls in record_types() for name in cls.fields))


PREFERENCE_HINT = ("map it with +data.columns.chosen=COLUMN for preference pairs, or give sentences a \"text\" "
                   "column (+data.columns.text=COLUMN) and sentence pairs \"anchor\" and \"positive\" columns "
                   "(+data.columns.anchor=COLUMN +data.columns.positive=COLUMN)")


def detect(row, cols, origin, fallback: type) -> type:
    """The record type a file's rows give, from the columns of its first row: the type of highest `file_priority`
    whose `file_match` says so; a row with only a `prompt` column is read as `fallback` (whose parser names what
    is missing). A partial match (a column one type needs without its partner) stops with that type's message."""

    def column(field: str) -> str:
        return cols.get(field) or field

    def has(field: str) -> bool:
        return column(field) in row.values

    for cls in sorted(record_types(), key=lambda c: -c.file_priority):
        match = cls.file_match(has, column)
        if isinstance(match, str):
            raise UserError(f"{origin.name} {row.where}: {match}")
        if match:
            return cls
    if has("prompt"):
        return fallback
    have = ", ".join(list(row.values)[:10])
    raise UserError(f'{origin.name} {row.where}: no "chosen" field for chosen (it has: {have}); {PREFERENCE_HINT}')
