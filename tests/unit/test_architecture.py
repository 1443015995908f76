"""The architecture of docs/ARCHITECTURE.md holds in the source tree (read as text: nothing is run):

- a unit is asked for by name only in its own module: no comparison (==, !=, in, is, match) with the name of an
  objective, family, record type or source, no isinstance on a record type, and no table keyed by such names,
  outside that unit's module; no builder probes an objective's config for a field (getattr/hasattr);
- the layers import downward only, and no modules import each other (directly or round a cycle);
- no source or test file is over 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "contrastlab"

# The layers, top to bottom (docs/ARCHITECTURE.md); a module imports its own layer or a lower one. The bottom layer
# holds what every layer may use: errors, the process helpers, the hub probe, and the pure losses (torch only).
LAYERS = (
    ("app", ("contrastlab.app",)),
    ("config", ("contrastlab.config",)),
    ("families", ("contrastlab.families",)),
    ("objectives", ("contrastlab.objectives",)),
    ("rewards", ("contrastlab.rewards",)),
    ("eval", ("contrastlab.eval",)),
    ("data", ("contrastlab.data",)),
    ("models", ("contrastlab.models",)),
    ("tracking", ("contrastlab.tracking",)),
    ("base", ("contrastlab.errors", "contrastlab.distributed", "contrastlab.network", "contrastlab.heap",
              "contrastlab.objectives.losses", "contrastlab")),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def layer(module: str) -> int:
    """The index of the module's layer (0 = top): its longest matching prefix."""
    best = max((prefix for _, prefixes in LAYERS for prefix in prefixes
                if module == prefix or module.startswith(prefix + ".")), key=len)  # fmt: skip
    return next(i for i, (_, prefixes) in enumerate(LAYERS) if best in prefixes)


def imports(module: str) -> set[str]:
    """The contrastlab modules `module` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("contrastlab")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("contrastlab"):
            for alias in node.names:  # `from package import module` imports the module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES and m != module}


def test_the_layers_import_downward_only():
    upward = [f"{m} ({LAYERS[layer(m)][0]}) imports {i} ({LAYERS[layer(i)][0]})"
              for m in MODULES for i in imports(m) if layer(i) < layer(m)]  # fmt: skip
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = {m: imports(m) for m in MODULES}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


# -- units are asked for by name only in their own modules -------------------------------------------------------
def _units() -> dict[str, dict[str, str]]:
    """kind -> unit name -> the module that is the unit."""
    from contrastlab.data.records import record_types
    from contrastlab.data.sources import discover as sources
    from contrastlab.families import discover as families
    from contrastlab.objectives import discover as objectives

    return {
        "objective": {name: f"contrastlab.objectives.{name}" for name in objectives()},
        "family": {name: f"contrastlab.families.{name}" for name in families()},
        "record type": {cls.__name__: cls.__module__ for cls in record_types()},
        "source": {name: f"contrastlab.data.sources.{name}" for name in sources()},
    }


UNITS = _units()
NAMES = {name: (kind, home) for kind, units in UNITS.items() for name, home in units.items()}
RECORD_CLASSES = UNITS["record type"]


def _constants(node) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [c for element in node.elts for c in _constants(element)]
    return []


def _homes(name: str) -> set[str]:
    """The modules allowed to name `name` (a name can be an objective and a family at once: 'reward')."""
    return {home for kind, units in UNITS.items() for n, home in units.items() if n == name}


def name_uses(module: str) -> list[str]:
    """Where `module` asks for a unit by name outside the unit's own module."""
    found = []

    def flag(node, what: str, name: str) -> None:
        if module not in _homes(name):
            found.append(f"{MODULES[module].relative_to(ROOT)}:{node.lineno}: {what} {name!r} ({NAMES[name][0]})")

    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                for value in _constants(operand):
                    if value in NAMES:
                        flag(node, "compares", value)
                if isinstance(node.ops[0], (ast.Is, ast.IsNot)) and isinstance(operand, ast.Name) \
                        and operand.id in RECORD_CLASSES:
                    flag(node, "compares the type with", operand.id)
        elif isinstance(node, ast.match_case):
            for pattern in ast.walk(node.pattern):
                if isinstance(pattern, ast.MatchValue):
                    for value in _constants(pattern.value):
                        if value in NAMES:
                            flag(pattern.value, "matches", value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("isinstance",
                                                                                               "issubclass"):
            for arg in node.args[1:]:
                for name in [n.id for n in ast.walk(arg) if isinstance(n, ast.Name)]:
                    if name in RECORD_CLASSES:
                        flag(node, f"{node.func.id} with", name)
        elif isinstance(node, ast.Dict):
            keys = [k for key in node.keys if key is not None for k in _constants(key) if k in NAMES]
            kinds = [NAMES[k][0] for k in keys]
            for kind in set(kinds):
                if kinds.count(kind) >= 2:  # a table keyed by unit names: a dispatcher
                    for key in keys:
                        if NAMES[key][0] == kind:
                            flag(node, "keys a table with", key)
    return found


def probes(module: str) -> list[str]:
    """getattr/hasattr on an objective's config outside contrastlab.objectives: a builder guessing what it runs."""
    if module.startswith("contrastlab.objectives"):
        return []
    found = []
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") \
                and node.args and isinstance(node.args[0], ast.Attribute) and node.args[0].attr == "objective":
            found.append(f"{MODULES[module].relative_to(ROOT)}:{node.lineno}: {node.func.id}(... .objective, ...)")
    return found


def test_no_unit_is_asked_for_by_name_outside_its_module():
    found = [line for module in MODULES for line in name_uses(module) + probes(module)]
    assert not found, "\n".join(found)


def test_the_scan_sees_what_it_looks_for():
    """The checks above can fail: a dispatcher written the old way is caught."""
    source = '''
def dispatch(spec, records, cfg):
    if spec.family == "embedding":
        pass
    if isinstance(records[0], Forget):
        pass
    beta = getattr(cfg.objective, "beta", 0.1)
    PRIMARY = {"policy": "pref_accuracy", "reward": "pref_accuracy"}
    match cfg.data.source:
        case "rt_forget":
            pass
'''
    TREES["contrastlab.app.fake"] = ast.parse(source)
    MODULES["contrastlab.app.fake"] = SRC / "app" / "fake.py"
    try:
        found = name_uses("contrastlab.app.fake") + probes("contrastlab.app.fake")
    finally:
        del TREES["contrastlab.app.fake"], MODULES["contrastlab.app.fake"]
    assert len([f for f in found if "'embedding'" in f]) == 1
    assert any("isinstance with 'Forget'" in f for f in found)
    assert any("getattr(... .objective" in f for f in found)
    assert any("keys a table with 'policy'" in f for f in found)
    assert any("matches 'rt_forget'" in f for f in found)


def test_the_architecture_doc_names_every_layer():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    for name, prefixes in LAYERS[:-1]:
        assert f"{name}/" in doc, name
    for prefix in LAYERS[-1][1][:-1]:
        assert prefix.removeprefix("contrastlab.").replace(".", "/") in doc, prefix


@pytest.mark.parametrize("folder", ["src", "tests", "scripts"])
def test_no_file_is_over_400_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}  # fmt: skip
    assert not long, long
