"""`emsync dashboard`: the page's numbers are the database's, and a real headless Chromium renders it."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from db.session import make_engine
from flows.ops.dashboard import create_app, render, summary
from flows.ops.queries import catalog_status
from flows.settings import get_settings
from tests.seed import seed

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
)


class Tables(HTMLParser):
    """Every <table class=...> as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("class") or ""
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def _expected_catalog_rows(url: str) -> list[list[str]]:
    rows = []
    for c in catalog_status(url):
        rows.append([c.name, str(c.videos), f"{c.scored} / {c.videos}", f"{c.soundtracked} / {c.videos}",
                     str(c.failed), str(c.quarantined), str(c.rejected)])
    return rows


def _check_page(page: str, url: str) -> None:
    tables = _tables(page)
    catalogs = [[re.sub(r" \(\d+%\)$", "", cell) for cell in row[:7]] for row in tables["catalogs"][1:]]
    assert catalogs == _expected_catalog_rows(url)
    assert catalogs == [["ads", "1", "0 / 1", "0 / 1", "0", "0", "0"], ["films", "4", "3 / 4", "2 / 4", "2", "0", "0"]]
    reasons = {row[5] for row in tables["failures"][1:]}
    assert reasons == {"not a video", "still not a video", "RuntimeError: model server down"}
    assert ["films", "joy", "2 / 3 (67%)"] in tables["emotions"]
    stages = {row[0]: row[1:] for row in tables["stages"][1:]}
    assert stages["cuts"] == ["3", "2.50", "2.50", "3.50"]
    assert any("music=music-small a192" in row[1] for row in tables["models"][1:])
    assert sum(int(row[1]) for row in tables["throughput"][1:]) == 2
    assert 'http-equiv="refresh"' in page


def test_page_numbers_match_the_database() -> None:
    url = get_settings().store.resolved_database_url
    make_engine(url)
    seed(url)
    _check_page(render(summary(url), 15), url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_dashboard() -> Iterator[tuple[str, str]]:
    import uvicorn

    url = get_settings().store.resolved_database_url
    make_engine(url)
    seed(url)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(url, 15), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the dashboard did not start"
    try:
        yield f"http://127.0.0.1:{port}/", url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def screenshot_dir(default: Path) -> Path:
    """Where screenshots survive the test run: $EMSYNC_INFRA_DIR/screenshots (infra/test.sh keeps it)."""
    root = os.environ.get("EMSYNC_INFRA_DIR")
    folder = Path(root) / "screenshots" if root else default
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium(*args: str, timeout: float = 120) -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_chromium_renders_the_dashboard(served_dashboard: tuple[str, str], tmp_path: Path) -> None:
    page_url, db_url = served_dashboard
    with urllib.request.urlopen(page_url + "api/summary", timeout=30) as response:
        assert response.status == 200
    dom = chromium("--dump-dom", page_url)  # what the browser built from the page
    _check_page(dom, db_url)
    shot = screenshot_dir(tmp_path) / "emsync-dashboard.png"
    shot.unlink(missing_ok=True)
    chromium("--window-size=1400,1900", f"--screenshot={shot}", page_url)
    assert shot.is_file() and shot.stat().st_size > 20_000, "an empty or missing screenshot"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
