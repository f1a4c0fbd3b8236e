"""The music package reads as rooms: v1 and v2 never import each other (only the shared contract), and
no module, nor room, imports in a circle. Read from the source (ast), lazy imports included."""

from __future__ import annotations

import ast

from tests.emsync_models.music.structure import PACKAGE, PACKAGE_DIR, cycles, import_graph, modules, room_of, rooms

# What the shared rooms may not lean on: a model's own sub-package (v1, v2) or torch where the module
# promises to stay light.
TORCH_FREE = ("request", "registry", "notes", "boundaries")


def test_v1_and_v2_never_import_each_other() -> None:
    crossings = [(a, b) for a, targets in import_graph().items() for b in targets
                 if {room_of(a), room_of(b)} == {"v1", "v2"}]
    assert crossings == []


def test_no_import_circle_between_modules_or_rooms() -> None:
    graph = import_graph()
    assert cycles(graph) == []
    names, arrows = rooms(graph)
    room_graph = {r: {b for a, b in arrows if a == r} for r in names}
    assert cycles(room_graph) == []


def test_the_shared_rooms_use_no_model_package_and_no_torch() -> None:
    graph = import_graph()
    for name in TORCH_FREE:
        module = f"{PACKAGE}.{name}"
        assert not {room_of(b) for b in graph[module]} & {"v1", "v2"}, module
        tree = ast.parse(modules()[module].read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m == "torch" or m.startswith("torch.") for m in imported), module


def test_the_package_is_drawn_in_sub_packages() -> None:
    names, _ = rooms(import_graph())
    assert {"v1", "v2", "analysis", "corpus", "eval", "request", "registry"} <= names
    assert not [p for p in PACKAGE_DIR.glob("*.py") if p.stem.endswith("_v2")]
