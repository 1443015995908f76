"""Registers every schema in Hydra's ConfigStore, so composition itself rejects typos and wrong types.

Schemas are stored at the root (not inside a group, so `--help` lists only real options). A YAML under
conf/<group>/ starts with `defaults: [/schema_<group>@_here_, _self_]`; an objective's with
`/schema_objective_<name>@_here_`.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from contrastlab.config.schema import DataConfig, HardwareConfig, LoggerConfig, ModelConfig, RewardConfig, RootConfig
from contrastlab.objectives import discover

_registered = False


def register() -> None:
    """Store the schemas once per process."""
    global _registered
    if _registered:
        return
    cs = ConfigStore.instance()
    cs.store(name="root_schema", node=RootConfig)
    cs.store(name="schema_model", node=ModelConfig)
    cs.store(name="schema_data", node=DataConfig)
    cs.store(name="schema_hardware", node=HardwareConfig)
    cs.store(name="schema_logger", node=LoggerConfig)
    cs.store(name="schema_reward", node=RewardConfig)
    for name, spec in discover().items():
        cs.store(name=f"schema_objective_{name}", node=spec.schema)
    _registered = True
