"""Reading one field of a file row: what every record type's row parser shares.

A field's column is `data.columns`' mapping, else the field's own name (`column_map`). A value that cannot be
read (a missing required column, an empty or non-text value) is a `BadRecord` naming the file, the row and the
fix: raised when the origin is strict (data.on_bad_record=error), else skipped and counted (`parse_rows`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

from contrastlab.data.files import BadRecord, Columns, Origin, Row, missing_field, no_records, usable


def column_map(fields: Iterable[str], columns: Mapping[str, str] | None = None,
               defaults: Columns | None = None) -> dict[str, str | None]:
    """Our field -> the column holding it: `defaults` (by default each field's own name), then `columns`
    (data.columns)."""
    mapping: dict[str, str | None] = dict(defaults) if defaults is not None else {name: name for name in fields}
    mapping.update({str(name): str(column) for name, column in dict(columns or {}).items()})
    return mapping


def cell(row: Row, field: str, cols: Columns, origin: Origin, required: bool) -> Any:
    """The row's value for `field` (NaN read as None); a missing required column is a BadRecord naming the fix."""
    column = cols.get(field) or field
    if column in row.values:
        value = row.values[column]
        return None if isinstance(value, float) and math.isnan(value) else value
    if not required:
        return None
    raise missing_field(row, field, column, origin)


def bad(origin: Origin, row: Row, problem: str, fix: str, reason: str) -> BadRecord:
    """The BadRecord `<file> <row>: <problem>; <fix>`, counted under `reason`."""
    return BadRecord(f"{origin.name} {row.where}: {problem}; {fix}", reason)


def text_cell(row: Row, field: str, cols: Columns, origin: Origin) -> str:
    """The row's non-empty string for `field`, else a BadRecord naming the row."""
    value = cell(row, field, cols, origin, required=True)
    if value is None:
        raise BadRecord(f"{origin.name} {row.where}: {field} is empty (null); give every record a string {field}",
                        f"empty {field}")
    if not isinstance(value, str):
        raise BadRecord(f"{origin.name} {row.where}: {field} is {value!r:.40} ({type(value).__name__}), not text; "
                        f"give every record a string {field}", f"{field} not text")
    if not value.strip():
        raise BadRecord(f"{origin.name} {row.where}: {field} is empty; give every record a non-empty {field}, "
                        "or drop the record", f"empty {field}")
    return value


def optional_text(row: Row, field: str, cols: Columns, origin: Origin) -> str | None:
    """The row's string for `field`, or None when the column is absent or empty."""
    value = cell(row, field, cols, origin, required=False)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{origin.name} {row.where}: {field} is {value!r:.40} ({type(value).__name__}), not text; "
                        f"give {field} as a string, or leave it empty", f"{field} not text")
    return value


def group_cell(row: Row, cols: Columns, origin: Origin, default: str) -> str:
    """The row's `group` column as text, else `default`."""
    group = cell(row, "group", cols, origin, required=False)
    return default if group is None or group == "" else str(group)


def number(value: Any) -> float | None:
    """`value` as a finite float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def parse_rows(rows: list[Row], parse: Callable[[Row, Columns, Origin], Any], cols: Columns, origin: Origin,
               what: str) -> list:
    """Rows -> records with `parse`; a bad record stops the run (strict origin) or is skipped and counted."""
    if not rows:
        raise no_records(origin, what, "check the file")
    read = len(rows) + sum(origin.skipped.values())  # the rows, and the lines skipped as they were read
    records = []
    for row in rows:
        try:
            records.append(parse(row, cols, origin))
        except BadRecord as err:
            origin.skip(err)
    return usable(records, read, origin, what, "check data.columns")
