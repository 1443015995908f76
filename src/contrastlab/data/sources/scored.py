"""What the hub sources of graded completions share (ultrafeedback_ranked, helpsteer2): their schema is read as
published, and the first row must have the columns every row needs."""

from __future__ import annotations

from contrastlab.data.files import no_records
from contrastlab.errors import UserError


def check_columns(source, rows: list, origin, needed: tuple[str, ...]) -> None:
    """A UserError when there are no rows, or the first row lacks a column of `needed` (source: its HubSource)."""
    if not rows and origin.skipped:
        raise no_records(origin, "records", f"pass a file in the {source.name} schema with data.path=FILE")
    if not rows:
        raise UserError(f"{origin.name} holds no records; pass a file in the {source.name} schema with data.path=FILE")
    row = rows[0]
    missing = [column for column in needed if column not in row.values]
    if missing:
        have = ", ".join(list(row.values)[:10])
        raise UserError(f'{origin.name} {row.where}: no "{missing[0]}" field (it has: {have}); data.source='
                        f"{source.name} reads the {source.hub_id} schema ({', '.join(needed)}, ...): pass a file in "
                        "that schema, or read your own with data=jsonl")


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
