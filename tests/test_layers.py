"""The package's stage order, read from the source: no import cycles, no import of a higher
stage from a lower one. Imports inside functions count too: a lazy import still ties the lower
stage to the higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "segutils"

#: The stages, bottom first. A module may import modules of its own stage or of lower stages.
#: Prefixes: "segutils.data" names the package's own __init__ only when written exactly.
STAGES: list[tuple[str, ...]] = [
    ("segutils.errors", "segutils.config"),
    ("segutils.data.classes", "segutils.data.label_tables", "segutils.data.io",
     "segutils.data.folders", "segutils.data.convert", "segutils.data.layouts",
     "segutils.data.datasets", "segutils.data.download", "segutils.data.synthetic",
     "segutils.data.camvid_like", "segutils.data.scenes", "segutils.viz"),
    ("segutils.augment",),
    # The tf.data pipeline applies augmentation, so it sits above augment; the dataset
    # front door (source) and the data package's re-exports sit above the pipeline.
    ("segutils.data.pipeline",),
    ("segutils.data.source", "segutils.data", "segutils.validate"),
    ("segutils.upsampling", "segutils.models"),
    ("segutils.balancing", "segutils.losses", "segutils.metrics"),
    ("segutils.train",),
    ("segutils.evaluate",),
    ("segutils.widgets", "segutils.exercises", "segutils.student", "segutils.course",
     "segutils.cli", "segutils.__main__", "segutils"),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _stage(module: str) -> int:
    best, length = None, -1
    for k, stage in enumerate(STAGES):
        for prefix in stage:
            exact_package = prefix in ("segutils", "segutils.data")
            hit = module == prefix or (not exact_package and module.startswith(prefix + "."))
            if hit and len(prefix) > length:
                best, length = k, len(prefix)
    if best is None:
        raise AssertionError(f"{module} has no stage in tests/test_layers.py: add it to STAGES")
    return best


def _target(module: str, node: ast.AST) -> list[str]:
    """The segutils modules an import statement loads."""
    found = []
    if isinstance(node, ast.Import):
        found = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            here = module.split(".")
            if MODULES[module].name != "__init__.py":
                here = here[:-1]
            here = here[: len(here) - node.level + 1]
            base = ".".join(here + ([base] if base else []))
        for alias in node.names:
            full = f"{base}.{alias.name}"
            found.append(full if full in MODULES else base)
    out = []
    for name in found:
        if not name.startswith("segutils"):
            continue
        while name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name != module:
            out.append(name)
    return out


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps.update(_target(module, node))
        graph[module] = deps
    return graph


def test_every_module_has_a_stage():
    for module in MODULES:
        _stage(module)


def test_no_module_imports_a_higher_stage():
    upward = [f"{m} (stage {_stage(m)}) imports {d} (stage {_stage(d)})"
              for m, deps in sorted(_graph().items()) for d in sorted(deps)
              if _stage(d) > _stage(m)]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected
