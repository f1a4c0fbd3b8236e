"""`emsync status --json`, `emsync metrics serve` and plain stage lines, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from db.session import ensure_schema
from flows.cli.app import app, stage_progress
from flows.settings import get_settings
from tests.seed import VERSIONS, seed

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def test_status_json_has_queue_depth_and_model_versions() -> None:
    ensure_schema(get_settings().store.resolved_database_url)
    seed(get_settings().store.resolved_database_url)
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    films = next(c for c in status["catalogs"] if c["name"] == "films")
    assert (films["videos"], films["scored"], films["soundtracked"], films["failed"]) == (4, 3, 2, 2)
    assert status["queue"] == [
        {"catalog": "films", "job": "job1", "model_versions": VERSIONS, "pending": 1, "claimed": 0, "leased": 0}
    ]
    assert status["models"]["soundtrack_jobs"] == {"job1": VERSIONS}
    assert status["models"]["emotion"] == [{"model": "fer-mini", "version": "1", "videos": 3}]


def test_status_table_shows_the_queue() -> None:
    seed(get_settings().store.resolved_database_url)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "work queue" in result.output and "job1" in result.output and "emotion models in use" in result.output
    # An 80-column terminal: no line wraps past it, and the failures are there to read.
    from rich.console import Console

    from flows.cli import catalog as cli_catalog

    narrow = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the console
    original, cli_catalog.out = cli_catalog.out, narrow
    try:
        assert runner.invoke(app, ["status"]).exit_code == 0
    finally:
        cli_catalog.out = original
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "latest 3 failures" in text and "still not a video" in text and "RuntimeError: model" in text
    assert "│ films   │      4 │      3 │       2 │      2 │        0 │       0 │" in text


def test_plain_stage_lines_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with stage_progress(True) as progress:
        assert progress is not None
        progress("cuts", 0.0)
        progress("cuts", 1.0)
    lines = capsys.readouterr().err.splitlines()
    # One line per finished stage (none as a stage starts: bad input stays a single error line).
    assert len(lines) == 1 and lines[0].startswith("stage cuts done, elapsed ")


@pytest.mark.slow
def test_metrics_serve_command(isolated_settings: Path) -> None:
    seed(get_settings().store.resolved_database_url)
    child = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli.app import app; app()", "metrics", "serve", "--port", "0"],
        cwd=REPO, env={**os.environ, "COLUMNS": "200"}, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        assert " at http://127.0.0.1:" in line, line
        with urllib.request.urlopen(line.rsplit(" at ", 1)[1].strip(), timeout=60) as response:
            text = response.read().decode()
        assert 'emsync_catalog_videos{catalog="films",state="registered"} 4.0' in text
    finally:
        child.terminate()
        child.wait(timeout=30)


@pytest.mark.slow
def test_dashboard_on_port_zero_names_the_port_it_got(isolated_settings: Path) -> None:
    seed(get_settings().store.resolved_database_url)
    child = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli.app import app; app()", "dashboard", "--port", "0"],
        cwd=REPO, env={**os.environ, "COLUMNS": "200"}, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        address = line.rsplit(" at ", 1)[1].strip()
        assert address.startswith("http://127.0.0.1:") and not address.endswith(":0/"), line
        with urllib.request.urlopen(address, timeout=60) as response:
            assert "films" in response.read().decode()
    finally:
        child.terminate()
        child.wait(timeout=30)


def test_verify_json_names_lost_objects(isolated_settings: Path, tmp_path: Path) -> None:
    from flows.storage.persist import record_soundtrack
    from flows.storage.store import make_store
    from tests.db.test_migrations import EMOTION

    files = {}
    for kind in ("midi", "report"):
        files[kind] = tmp_path / f"{kind}.bin"
        files[kind].write_bytes(kind.encode() * 50)
    keys = record_soundtrack(get_settings(), source_uri="/v/a.mp4", content_hash="c" * 64, probe={"duration_s": 1.0},
                             cuts_s=[], emotion=EMOTION, params={"seed": 1}, model_versions={"music": "m"},
                             timings={}, artifacts=files)
    clean = CliRunner().invoke(app, ["catalog", "verify", "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout) == {"catalog": None, "checked": 2, "broken_runs": [], "runs_marked": 0,
                                        "problems": []}
    store = make_store(get_settings())
    store.delete(keys["midi"])  # lost behind the database's back
    lost = CliRunner().invoke(app, ["catalog", "verify", "--json"])
    assert lost.exit_code == 3
    found = json.loads(lost.stdout)
    assert [(p["kind"], p["key"], p["problem"]) for p in found["problems"]] == [("midi", keys["midi"], "missing")]


def test_summaries_show_human_numbers() -> None:
    from flows.cli.catalog import human

    assert [human(v) for v in (0.24175240000000003, -0.5, 3.0, 0.0, 1234.5678, 12345, None, True)] == [
        "0.242", "-0.5", "3", "0", "1,235", "12,345", "-", "yes"]
    assert human({"music": "v2 3f9a", "emotion": "fer-mini/1"}) == "music=v2 3f9a, emotion=fer-mini/1"
