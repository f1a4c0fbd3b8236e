"""`emsync db upgrade`, `emsync catalog ...` and `emsync status` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from db.session import head_revision
from flows.cli import catalog as cli_catalog
from flows.cli.app import app
from flows.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wrap at the terminal width; a wide one keeps each row on one line for the asserts."""
    monkeypatch.setattr(cli_catalog, "out", Console(width=250))


def test_db_upgrade_and_empty_status() -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"is at revision {head_revision()}" in result.output
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0 and "catalogs in sqlite" in result.output
    upgraded = json.loads(runner.invoke(app, ["db", "upgrade", "--json"]).stdout)
    assert upgraded["database"].startswith("sqlite:///") and upgraded["revision"] == head_revision()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["catalog", "ingest", "missing.csv"], "no such manifest file"),
        (["catalog", "score", "no-such-catalog"], "neither a manifest file nor a known catalog"),
        (["catalog", "backfill", "dir/missing.jsonl"], "no such manifest file"),
        (["catalog", "score", "bad/../name"], "no such manifest file"),
        (["catalog", "backfill", "shows", "--music-model", "v3"], "unknown music model; choose from v1, v2"),
    ],
)
def test_bad_arguments_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


@pytest.mark.integration
def test_ingest_reports_rows_and_status_counts_them(
    prefect_api: str, tiny_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(tiny_clips[0].parent), str(tmp_path)]))
    get_settings.cache_clear()
    manifest = tmp_path / "cli.jsonl"
    manifest.write_text(
        json.dumps({"uri": str(tiny_clips[0])})
        + "\n"
        + "{oops\n"
        + json.dumps({"uri": "https://example.com/a.mp4"})
        + "\n"
    )
    result = runner.invoke(app, ["catalog", "ingest", str(manifest)])
    assert result.exit_code == 3, result.output  # rows were rejected: named below, exit 3
    assert "registered" in result.output and "not valid JSON" in result.output
    assert "unsupported URI scheme 'https'" in result.output
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0
    row = next(line for line in status.output.splitlines() if line.startswith("│ cli "))
    # catalog, videos, scored, soundtracked, failed, rejected rows, quarantined
    assert [c.strip() for c in row.strip("│ ").split("│")][:7] == ["cli", "1", "0", "0", "0", "2", "0"]
