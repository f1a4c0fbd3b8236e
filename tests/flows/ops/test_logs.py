"""Log formats: JSON lines for EMSYNC's and Prefect's loggers, one error line for a bad format, and
third-party warnings only at debug. Each case runs in a fresh interpreter (logging is process-wide)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, **env})


def test_json_lines_with_the_traceback_as_a_field() -> None:
    done = _python(
        "import logging\n"
        "from flows.ops.logs import configure\n"
        "configure('info', 'json')\n"
        "log = logging.getLogger('flows.catalog.x')\n"
        "log.info('video %s done', 'vid-1')\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    log.exception('boom')\n"
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("INFO", "flows.catalog.x", "video vid-1 done"), ("ERROR", "flows.catalog.x", "boom")]
    assert "ZeroDivisionError" in lines[1]["exception"] and lines[0]["time"].endswith("+00:00")


@pytest.mark.integration
def test_prefect_flow_logs_come_out_as_json() -> None:
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        pytest.skip("no Prefect server (infra/prefect.sh start; infra/test.sh exports PREFECT_API_URL)")
    done = _python(
        "from flows.ops.logs import configure\n"
        "configure('info', 'json')\n"
        "from prefect import flow, get_run_logger\n"
        "@flow(name='json-logs')\n"
        "def f():\n    get_run_logger().warning('from the flow')\n"
        "f()\n",
        PREFECT_API_URL=api,
    )
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]  # every line is JSON
    (ours,) = [e for e in entries if e["message"] == "from the flow"]
    assert ours["level"] == "WARNING" and ours["logger"] == "prefect.flow_runs" and ours["flow_run_name"]


def test_worker_rejects_a_bad_format_in_one_line() -> None:
    done = _python("from flows.ops.logs import configure_from_env\nconfigure_from_env()", EMSYNC_LOG_FORMAT="xml")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: EMSYNC_LOG_FORMAT='xml': use one of text, json"


def test_third_party_warnings_only_at_debug() -> None:
    code = ("import warnings\nfrom flows.ops.logs import configure\nconfigure('{level}', 'text')\n"
            "warnings.warn('OpenMP libraries', UserWarning)\n")
    assert "OpenMP libraries" not in _python(code.format(level="info")).stderr
    shown = _python(code.format(level="debug")).stderr
    assert "OpenMP libraries" in shown and "py.warnings" in shown


def test_expected_outcomes_are_one_line_without_a_traceback() -> None:
    done = _python(
        "import logging\n"
        "from flows.ops.logs import configure, console_tracebacks_at_debug_only\n"
        "configure('info', 'json')\n"
        "from flows.ops.outcome import CatalogRunFailed\n"
        "from emsync_models.errors import InputError\n"
        "runs = logging.getLogger('prefect.flow_runs')\n"
        "def raised(exc):\n"
        "    try:\n        raise exc\n    except Exception:\n        import sys; return sys.exc_info()\n"
        "failed = raised(CatalogRunFailed('backfill films: 2 of 3 videos failed', {}))\n"
        "runs.error('Engine execution exited with unexpected exception', exc_info=failed)\n"
        "runs.error('Finished in state Failed', exc_info=failed)\n"
        "runs.error('Task run failed', exc_info=raised(InputError('vid-2.mp4', 'not a video')))\n"
        "console_tracebacks_at_debug_only()\n"
        "tasks = logging.getLogger('prefect.task_runs')\n"
        "tasks.error('Task run failed', exc_info=raised(ConnectionError('triton down')))\n"
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["message"], "exception" in e) for e in lines] == [
        ("Finished in state Failed", False),
        ("Task run failed", False),
        ("Task run failed: ConnectionError: triton down", False),
    ]


@pytest.mark.integration
def test_model_server_down_is_json_lines_without_a_traceback(tmp_path: Path) -> None:
    """`emsync --log-format json catalog score` with Triton unreachable: every log line is JSON, none
    carries a traceback, and the command ends with its one error line (exit 1: retry later)."""
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        pytest.skip("no Prefect server (infra/prefect.sh start; infra/test.sh exports PREFECT_API_URL)")
    from tests.media import make_clip

    make_clip(tmp_path / "a.mp4", seconds=1.0, size="64x48", fps=10, audio=False)
    (tmp_path / "down.csv").write_text("uri,external_id\na.mp4,a\n")
    env = {**os.environ, "PREFECT_API_URL": api, "EMSYNC_DATA_DIR": str(tmp_path / "data"),
           "EMSYNC_MODEL_BACKEND": "triton", "EMSYNC_MUSIC_MODEL": "v1", "EMSYNC_TRITON_URL": "127.0.0.1:1"}
    env.pop("EMSYNC_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", "from flows.cli.app import app; app()", "--log-format", "json",
                           "catalog", "score",
                           str(tmp_path / "down.csv")], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert done.returncode == 1, done.stderr
    *logs, last = done.stderr.strip().splitlines()
    entries = [json.loads(line) for line in logs]
    assert entries and not any("exception" in e for e in entries)
    assert any(e["level"] == "ERROR" and "Triton at 127.0.0.1:1 unavailable" in e["message"] for e in entries)
    assert last.startswith("error: ServingUnavailable") and "Traceback" not in done.stderr
