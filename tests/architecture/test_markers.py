"""The marker rule: a test that reaches a real server (PostgreSQL, S3, the Prefect server, Triton,
Prometheus, Alertmanager) is marked `integration`, so `make test-fast` never starts or waits for one.

Read from the source with `ast`: a test reaches a server when its own code, a fixture or helper of its
module it names, or a module-level name it uses mentions a server fixture (`pg_url`, `s3_env`,
`prefect_api`, `production_env`, also as `request.getfixturevalue("pg_url")`), a server address variable
(`EMSYNC_TEST_*_URL`, `PREFECT_API_URL`) or starts an `infra/*.sh` server. It is marked by its own
decorator, its module's `pytestmark`, or, for a server reached through one parameter only, a
`pytest.param(..., marks=pytest.mark.integration)` of its parametrize or fixture. The fixtures in
tests/servers.py check the same at run time, so a dynamic use the source does not show fails there.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SERVER_FIXTURES = frozenset({"pg_url", "s3_env", "prefect_api", "production_env"})
SERVER_ENV = frozenset({
    "EMSYNC_TEST_POSTGRES_URL", "EMSYNC_TEST_S3_ENDPOINT", "EMSYNC_TEST_TRITON_URL", "EMSYNC_TEST_TRITON_METRICS_URL",
    "EMSYNC_TEST_PROMETHEUS_URL", "EMSYNC_TEST_ALERTMANAGER_URL", "EMSYNC_TEST_ALERT_WEBHOOK_URL", "PREFECT_API_URL",
})
SERVER_SCRIPTS = frozenset({"postgres.sh", "s3.sh", "prefect.sh", "triton.sh", "prometheus.sh"})
STARTS = frozenset({"start", "worker"})


def _is_integration_mark(node: ast.AST) -> bool:
    """`pytest.mark.integration`, bare or in a list/tuple."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(_is_integration_mark(e) for e in node.elts)
    return isinstance(node, ast.Attribute) and node.attr == "integration"


def _marked_params(call: ast.AST) -> bool:
    """A parametrize/fixture call one of whose params is `pytest.param(..., marks=<integration>)`."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "param"
               and any(k.arg == "marks" and _is_integration_mark(k.value) for k in n.keywords)
               for n in ast.walk(call))


def _is_fixture(fn: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "fixture" or isinstance(n, ast.Name) and n.id == "fixture"
               for d in fn.decorator_list for n in ast.walk(d))


def _strings_and_names(node: ast.AST) -> tuple[set[str], set[str]]:
    """String constants, and the names the code reads: parameters (fixtures), calls (helpers) and loads."""
    strings, names = set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            strings.add(n.value)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
    return strings, names


def _reaches_server(strings: set[str], names: set[str]) -> bool:
    scripts = {s.rsplit("/", 1)[-1] for s in strings} & SERVER_SCRIPTS
    return bool((strings | names) & SERVER_FIXTURES or strings & SERVER_ENV or (scripts and strings & STARTS))


class Module:
    def __init__(self, path: Path) -> None:
        self.tree = ast.parse(path.read_text())
        self.functions: dict[str, ast.FunctionDef] = {}
        self.tests: list[ast.FunctionDef] = []
        self.module_marked = False
        self.server_names: set[str] = set()  # module-level names whose value reaches a server
        for node in self.tree.body:
            body = node.body if isinstance(node, ast.ClassDef) else [node]
            for item in body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.functions[item.name] = item
                    if item.name.startswith("test"):
                        self.tests.append(item)
            if isinstance(node, ast.Assign):
                targets = {t.id for t in node.targets if isinstance(t, ast.Name)}
                if "pytestmark" in targets:
                    self.module_marked = _is_integration_mark(node.value)
                elif _reaches_server(*_strings_and_names(node.value)):
                    self.server_names |= targets

    def _covered_by_params(self, fn: ast.FunctionDef) -> bool:
        return any(_marked_params(d) for d in fn.decorator_list)

    def reaches_server(self, fn: ast.FunctionDef, seen: set[str] | None = None) -> bool:
        """Through its own code and the module's fixtures and helpers it names, unless a marked param
        of that function covers the server."""
        seen = seen if seen is not None else set()
        if fn.name in seen:
            return False
        seen.add(fn.name)
        if self._covered_by_params(fn) and fn not in self.tests:
            return False
        strings, names = _strings_and_names(fn)
        # A name assigned inside the function is its own local, not the module's fixture or helper.
        names -= {t.id for n in ast.walk(fn) for t in getattr(n, "targets", []) if isinstance(t, ast.Name)}
        if fn not in self.tests and not _is_fixture(fn):  # a helper's parameters are its own, not fixtures
            names -= {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
        if _reaches_server(strings, names) or names & self.server_names:
            return True
        return any(self.reaches_server(self.functions[n], seen) for n in names & set(self.functions) - {fn.name})

    def marked(self, fn: ast.FunctionDef) -> bool:
        return (self.module_marked or any(_is_integration_mark(d) for d in fn.decorator_list)
                or self._covered_by_params(fn))


def unmarked_server_tests(root: Path = TESTS) -> list[str]:
    found = []
    for path in sorted(root.rglob("test_*.py")):
        module = Module(path)
        found += [f"{path.relative_to(root.parent)}::{fn.name}" for fn in module.tests
                  if module.reaches_server(fn) and not module.marked(fn)]
    return found


def test_every_test_that_reaches_a_server_is_marked_integration() -> None:
    assert unmarked_server_tests() == []


def test_the_rule_sees_each_way_of_reaching_a_server(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_probe.py").write_text('''
import os, pytest
URL = os.environ.get("EMSYNC_TEST_TRITON_URL")

@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.integration)])
def url(request):
    return request.getfixturevalue("pg_url") if request.param == "pg" else "sqlite://"

@pytest.fixture
def db(pg_url):
    return pg_url

def _start():
    return ["bash", "infra/s3.sh", "start"]

def test_param(pg_url): ...
def test_fixture(db): ...
def test_module_name(): assert URL
def test_helper(): _start()
def test_local_name_is_not_the_fixture():
    url = "sqlite://"
    assert url
def test_dynamic(request): request.getfixturevalue("s3_env")
def test_env(): names = ("EMSYNC_TEST_ALERTMANAGER_URL",)
def test_pure(tmp_path): ...
def test_marked_param_fixture(url): ...
@pytest.mark.integration
def test_marked(pg_url): ...
@pytest.mark.parametrize("b", ["x", pytest.param("y", marks=[pytest.mark.integration])])
def test_marked_parametrize(b, request): request.getfixturevalue("production_env")
''')
    found = {n.split("::")[1] for n in unmarked_server_tests(tmp_path / "tests")}
    assert found == {"test_param", "test_fixture", "test_module_name", "test_helper", "test_dynamic", "test_env"}
