"""Families: one module each, exporting `FAMILY` (a `base.Family`), found by importing every module here.

`get(name)` is the family an objective names (`ObjectiveSpec.family`); `report_columns()` the comparison report's
columns over every family, in their `rank` order; `encoder_objectives()` the objectives whose family trains a
sentence encoder (for messages).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from contrastlab.errors import UserError
from contrastlab.families.base import Family, FamilyContext, Session
from contrastlab.tracking.jobs import ReportColumns

__all__ = ["Family", "FamilyContext", "Session", "discover", "encoder_objectives", "get", "report_columns"]


@functools.lru_cache(maxsize=1)
def discover() -> dict[str, Family]:
    """Every family of this package, by name, in `rank` order."""
    found: list[Family] = []
    for info in pkgutil.iter_modules(__path__):
        family = getattr(importlib.import_module(f"{__name__}.{info.name}"), "FAMILY", None)
        if isinstance(family, Family):
            found.append(family)
    return {family.name: family for family in sorted(found, key=lambda f: (f.rank, f.name))}


def get(name: str) -> Family:
    families = discover()
    if name not in families:
        raise UserError(f"family {name} is not a family of contrastlab.families; choose from {', '.join(families)}")
    return families[name]


def report_columns() -> ReportColumns:
    """Every family's columns of the comparison report, in family order."""
    return ReportColumns.merge(family.report for family in discover().values())


def encoder_objectives() -> str:
    """'objective=a, objective=b or objective=c': the objectives whose family trains sentence encoders."""
    from contrastlab.objectives import discover as objectives

    names = sorted(f"objective={name}" for name, spec in objectives().items() if get(spec.family).trains_encoders)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
