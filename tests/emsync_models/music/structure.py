"""The music package's structure from its imports (ast, nothing imported): rooms and the arrows between them.

A room is a top-level module or a sub-package of `emsync_models/music/` (a flat folder: every module is a
room); an arrow is "some module of room A imports something of room B", counted once per pair. Imports
inside functions count too: a lazy import is still a dependency a reader must know about.

    python -m tests.emsync_models.music.structure [PACKAGE_DIR]    # rooms, arrows, module-level cycles
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "emsync_models.music"
PACKAGE_DIR = Path(__file__).resolve().parents[3] / "emsync_models" / "music"


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def modules(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    return {module_name(p, package_dir): p for p in sorted(package_dir.rglob("*.py"))}


def imported_names(tree: ast.AST, this: str, is_package: bool) -> Iterable[str]:
    """Absolute dotted names this module imports (relative imports resolved against `this`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = this.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield prefix
            yield from (f"{prefix}.{alias.name}" for alias in node.names)


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a name resolves to the longest module it names)."""
    mods = modules(package_dir)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for imported in imported_names(tree, name, path.name == "__init__.py"):
            parts = imported.split(".")
            for n in range(len(parts), 0, -1):
                candidate = ".".join(parts[:n])
                if candidate in mods:
                    # `from pkg import mod` names the module; `from pkg import func` names only the package
                    if candidate != name and candidate != PACKAGE:
                        targets.add(candidate)
                    break
        graph[name] = targets
    return graph


def room_of(module: str) -> str:
    """The top-level module or sub-package directly under the package that holds `module`."""
    rest = module.removeprefix(PACKAGE + ".").split(".")
    return rest[0]


def rooms(graph: dict[str, set[str]]) -> tuple[set[str], set[tuple[str, str]]]:
    names = {room_of(m) for m in graph if m != PACKAGE}
    arrows = {(room_of(a), room_of(b)) for a, targets in graph.items() if a != PACKAGE
              for b in targets if room_of(a) != room_of(b)}
    return names, arrows


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main(argv: list[str]) -> None:
    package_dir = Path(argv[0]).resolve() if argv else PACKAGE_DIR
    graph = import_graph(package_dir)
    names, arrows = rooms(graph)
    module_arrows = sum(len(t) for t in graph.values())
    print(f"{len(graph)} modules, {module_arrows} module arrows; {len(names)} rooms, {len(arrows)} room arrows")
    for room in sorted(names):
        out = sorted(b for a, b in arrows if a == room)
        print(f"  {room:<22} -> {', '.join(out) if out else '(nothing)'}")
    circles = cycles(graph)
    print(f"{len(circles)} import circles" + "".join(f"\n  {' <-> '.join(c)}" for c in circles))


if __name__ == "__main__":
    main(sys.argv[1:])
