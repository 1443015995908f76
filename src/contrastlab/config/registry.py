"""Registers every schema in Hydra's ConfigStore, so composition itself rejects typos and wrong types.

A YAML under conf/<group>/ starts with `defaults: [<group>_schema, _self_]` (objectives: `<name>_schema`).
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from contrastlab.config.schema import DataConfig, HardwareConfig, LoggerConfig, ModelConfig, RootConfig
from contrastlab.objectives import discover

_registered = False


def register() -> None:
    """Store the schemas once per process."""
    global _registered
    if _registered:
        return
    cs = ConfigStore.instance()
    cs.store(name="root_schema", node=RootConfig)
    cs.store(group="model", name="model_schema", node=ModelConfig)
    cs.store(group="data", name="data_schema", node=DataConfig)
    cs.store(group="hardware", name="hardware_schema", node=HardwareConfig)
    cs.store(group="logger", name="logger_schema", node=LoggerConfig)
    for name, spec in discover().items():
        cs.store(group="objective", name=f"{name}_schema", node=spec.schema)
    _registered = True
