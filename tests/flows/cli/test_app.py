"""The command line's entry points work as documented: --version, log levels, no telemetry noise."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

EMSYNC = str(Path(sys.executable).with_name("emsync"))


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EMSYNC_", "PREFECT_"))}
    base.update({"EMSYNC_DATA_DIR": str(tmp_path / "data"), "PREFECT_HOME": str(tmp_path / "prefect"), **env})
    base.pop("DO_NOT_TRACK", None)
    return subprocess.run([EMSYNC, *args], capture_output=True, text=True, env=base, cwd=tmp_path, timeout=600)


def test_version_prints_the_installed_version(tmp_path: Path):
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"emsync {version('emsync')}"


def test_an_unknown_log_level_is_one_line(tmp_path: Path):
    result = run(["--log-level", "loud", "status"], tmp_path)
    assert result.returncode == 2
    assert "--log-level 'loud'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_flow_without_a_prefect_server_sends_no_telemetry_and_quiet_hides_info(tmp_path: Path):
    """No PREFECT_API_URL: Prefect starts its ephemeral server, whose telemetry service would fail offline."""
    manifest = tmp_path / "empty.csv"
    manifest.write_text("uri\n")
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    loud = run(["--log-level", "info", "catalog", "ingest", str(manifest)], tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "telemetry" not in (loud.stdout + loud.stderr).lower()
    assert "INFO" in loud.stdout + loud.stderr
    quiet = run(["-q", "catalog", "ingest", str(manifest)], tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "telemetry" not in (quiet.stdout + quiet.stderr).lower()
    assert " INFO " not in quiet.stdout + quiet.stderr and "| INFO" not in quiet.stdout + quiet.stderr


def test_styles_lists_every_family_with_a_description(tmp_path: Path):
    import json

    from emsync_models.music.controls import STYLE_FAMILIES

    result = run(["styles", "--json"], tmp_path)
    assert result.returncode == 0
    listed = json.loads(result.stdout)
    assert list(listed) == list(STYLE_FAMILIES) and all(listed.values())


@pytest.mark.parametrize(("args", "named", "choice"), [
    (["--style", "dubstep"], "--style dubstep", "latin"),
    (["--instruments", "piano,kazoo"], "--instruments kazoo", "strings"),
])
def test_an_unknown_style_or_instrument_is_one_line_with_the_choices(tmp_path: Path, args: list[str], named: str,
                                                                    choice: str):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"not checked: the options are")
    result = run(["soundtrack", str(video), "--out", str(tmp_path / "out.mp4"), *args], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and choice in lines[0] and "Traceback" not in result.stderr
