"""The shape of the house: data flows one way through the packages, no module reaches back up, no import
cycle, and aiokafka is imported only behind the Kafka boundary (tests included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUMP = ROOT / "pump"

#: Bottom to top; a unit may import only units of its own layer's rank or below (never a peer of its layer).
LAYERS: list[set[str]] = [
    {"pump._version", "pump.errors", "pump.records", "pump.arrowlib"},
    {"pump.config"},
    {"pump.schemas"},
    {"pump.input"},
    {"pump.decode"},
    {"pump.dev"},
    {"pump.account"},
    {"pump.output", "pump.pace"},
    {"pump.observe"},
    {"pump.engine", "pump.signals"},
    {"pump.parallel"},
    {"pump.runner"},
    {"pump.bench", "pump.verify"},
    {"pump.cli", "pump.testing"},
    {"pump", "pump.__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def rank(module: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit(module) in layer)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function: a deferred import is still an import."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PUMP.rglob("*.py")}


def test_every_module_belongs_to_a_layer() -> None:
    for name in modules():
        assert any(unit(name) in layer for layer in LAYERS), f"{name} is in no layer: add it to LAYERS"


def test_no_module_imports_upward_or_sideways() -> None:
    wrong = []
    for name, path in modules().items():
        for target in imports(path):
            if not target.startswith("pump") or unit(target) == unit(name):
                continue
            if rank(target) >= rank(name):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_there_is_no_import_cycle() -> None:
    mods = modules()
    graph = {name: {t for t in imports(path) if t in mods and t != name} for name, path in mods.items()}
    # a package's __init__ imports its submodules; a submodule importing its own package would close a loop
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


#: the boundary's own unit tests (its translation table, what it reaches into) and the helper holding framed batches to
#: aiokafka's
BOUNDARY_TESTS = {ROOT / "tests" / name for name in ("test_kafka_boundary.py", "test_kafka_internals.py", "support/framing.py")}


def test_aiokafka_is_imported_only_behind_the_kafka_boundary_tests_included() -> None:
    offenders = []
    for path in [*PUMP.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "examples").rglob("*.py")]:
        if path.is_relative_to(PUMP / "output" / "kafka") or path in BOUNDARY_TESTS:
            continue
        if any(name == "aiokafka" or name.startswith("aiokafka.") for name in imports(path)):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"aiokafka imported outside pump/output/kafka: {offenders}"


MAX_FUNCTION_LINES = 60


def test_no_function_is_over_60_lines() -> None:
    """A function longer than a screen is usually two jobs (decorators and docstring counted)."""
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert not long, "\n".join(long)
