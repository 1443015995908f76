"""Objectives: one module each, holding its config schema, the record type it consumes and how it trains.

`discover()` imports every module of this package and collects its `SPEC`. The modules import only
dataclasses and omegaconf at the top, so composing a config never imports torch or TRL.
"""

from __future__ import annotations

import importlib
import pkgutil

from contrastlab.objectives.base import ObjectiveSpec

_SUBPACKAGES = {"base", "kinds", "losses", "trainers"}


def discover() -> dict[str, ObjectiveSpec]:
    """Every objective of this package, by name."""
    specs: dict[str, ObjectiveSpec] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in _SUBPACKAGES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, ObjectiveSpec):
            specs[spec.name] = spec
    return specs
