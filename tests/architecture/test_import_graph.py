"""The drawn import structure of flows/ and emsync_models/: no circle, no upward arrow.

Every import counts, at module level or inside a function (a lazy import still ties the two modules
together), read from the source with `ast`, so the test needs none of the libraries imported."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("flows", "emsync_models")
# Being restructured by its own owner (its inner circles are theirs to cut): drawn as one node, so its
# arrows to and from the rest still count.
COLLAPSED = ("emsync_models.music",)
# (importer prefix, imported prefix) pairs that point the wrong way: the lower layer never imports the upper.
UPWARD = (
    ("emsync_models", "flows"),  # pure models never know the platform
    ("flows.settings", "flows."),  # settings is read by everyone and reads nothing of theirs
    ("flows.storage", "flows.catalog"),  # storage is below the catalog that uses it
    ("flows.storage", "flows.ops"),
    ("flows.ops", "flows.catalog"),  # ops reads the database through its own queries
    ("flows.ops", "flows.cli"),
    ("flows.catalog", "flows.cli"),
    ("emsync_models.video", "emsync_models.emotion"),  # the decoder feeds emotion, not the other way
)

# Known exceptions, each a leaf that imports nothing above the importer.
ALLOWED = frozenset({
    # the catalogs' music-model labels and coverage (reads db/ only), which the metrics and dashboard show
    ("flows.ops.metrics", "flows.catalog.pinning"),
    ("flows.ops.dashboard", "flows.catalog.pinning"),
    ("flows.ops.queries", "flows.catalog.pinning"),
})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _node(name: str) -> str:
    return next((p for p in COLLAPSED if name == p or name.startswith(p + ".")), name)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for stmt in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(stmt, ast.Import):
            targets = [alias.name for alias in stmt.names]
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - stmt.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            # `from pkg import mod` imports the module pkg.mod when there is one, else a name in pkg
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in stmt.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name c in a.b
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports, within PACKAGES (COLLAPSED packages as one node each)."""
    paths = {_module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges = graph.setdefault(_node(name), set())
        edges.update(_node(t) for t in _imports(path, name, set(paths)) if _node(t) != _node(name))
    return graph


def test_the_graph_sees_imports() -> None:
    graph = import_graph()
    assert "flows.settings" in graph["flows.soundtrack"]  # a module-level import
    assert "flows.inference" in graph["flows.catalog.identity"]  # an import inside a function


def test_no_import_circles() -> None:
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_no_upward_imports() -> None:
    wrong = sorted(
        f"{a} -> {b}"
        for a, targets in import_graph().items()
        for b in targets
        for low, high in UPWARD
        if a.startswith(low) and b.startswith(high) and not b.startswith(low) and (a, b) not in ALLOWED
    )
    assert not wrong, "\n".join(wrong)
