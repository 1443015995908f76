"""Turns a user's mistake into one line on stderr (exit code 2 is set by run.py).

Hydra and OmegaConf raise their own exception types for composition errors (unknown group option,
unknown key, wrong type); ours raise `UserError`. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
import sys

from contrastlab.errors import UserError


def user_error_types() -> tuple[type[BaseException], ...]:
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    return (UserError, ConfigCompositionException, MissingConfigException, OverrideParseException,
            OmegaConfBaseException)  # fmt: skip


def one_line(err: BaseException) -> str:
    """The message of `err` (and of the exception it wraps) as one readable line."""
    if isinstance(err, UserError):
        return " ".join(str(err).split())
    text = str(err)
    cause = err.__cause__ or err.__context__
    if cause is not None and not isinstance(cause, KeyboardInterrupt):
        text = f"{text}\n{cause}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not re.match(r"(full_key|object_type|reference_type|value|msg):", ln)]
    override = re.search(r"Could not override '([^']+)'", text) or re.search(r"Error merging override ([^\s=]+)", text)
    choice = re.search(r"Invalid value '([^']*)', expected one of \[([^\]]*)\]", text)
    if override and choice:  # a choice that is not one of an Enum field's
        return f"{override.group(1)}={choice.group(1)} is not one of {choice.group(2)}"
    if override and re.search(r"not in struct|Key '[^']+' not in '", text):
        key = override.group(1)
        owner = re.search(r"object_type=(\w+)", text)
        hint = _did_you_mean(key, owner.group(1) if owner else None)
        return f"unknown option '{key}'{hint} (list the options with: python run.py [your overrides] --cfg job)"
    if override and re.search(r"could not be converted|Value '.*' (is not|could not)", text):
        detail = next((ln for ln in lines if "Value" in ln), lines[-1])
        return f"wrong type for '{override.group(1)}': {detail}"
    missing = re.search(r"Could not find '([^']+)'", text)
    if missing:  # an unknown option of a group: Hydra lists the available ones, one per line
        avail = re.findall(r"^\s*(\w[\w.-]*)\s*$", text, flags=re.M)
        hint = f"; choose from {', '.join(avail)}" if avail else ""
        group, _, option = missing.group(1).rpartition("/")
        return f"unknown {group} '{option}'{hint}" if group else f"config '{option}' not found{hint}"
    return "; ".join(lines)


def _did_you_mean(key: str, schema_name: str | None) -> str:
    """'; did you mean X?' from the fields of the schema dataclass named `schema_name`, or ''."""
    import dataclasses
    import difflib

    from contrastlab.config import schema
    from contrastlab.objectives import discover

    classes = [spec.schema for spec in discover().values()]
    classes += [c for c in vars(schema).values() if dataclasses.is_dataclass(c)]
    fields = [f.name for c in classes if c.__name__ == schema_name for f in dataclasses.fields(c)]
    prefix, _, leaf = key.rpartition(".")
    close = difflib.get_close_matches(leaf, fields, n=1)
    return f": did you mean '{prefix + '.' if prefix else ''}{close[0]}'?" if close else ""


def report_user_error(err: BaseException) -> None:
    print(f"contrastlab: error: {one_line(err)}", file=sys.stderr)
