"""A scripted operator day against the real servers (PostgreSQL, S3 for the artifacts, the Prefect server,
Prometheus + Alertmanager + the example webhook receiver from infra/prometheus.sh), through the CLI:

ingest a catalog of three videos, two of which go bad; the backfill exits 3, the failure alert fires in
Prometheus and reaches the webhook; one video is fixed and replaced under its external id, retried, and
soundtracked; the other is quarantined; the next scheduled runs (scoring, backfill) are green, the
"failures outstanding" alert resolves, and status shows one quarantined video.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from flows.cli import catalog as cli_catalog
from flows.cli.app import app
from flows.ops.metrics import serve
from flows.settings import get_settings
from tests.clips import make_clips

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RATE_ALERT = "EmsyncSoundtrackFailureRate"
OUTSTANDING_ALERT = "EmsyncFailedVideosOutstanding"


def _get(url: str) -> Any:  # noqa: ANN401
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _wait(what: str, check: Any, timeout: float = 120) -> Any:  # noqa: ANN401
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _cli(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, f"emsync {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return result


def test_operator_day(
    prefect_api: str, production_env: dict[str, str], pg_url: str, clip_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    urls = {k: os.environ.get(k) for k in ("EMSYNC_TEST_PROMETHEUS_URL", "EMSYNC_TEST_ALERT_WEBHOOK_URL",
                                            "EMSYNC_PROMETHEUS_TARGETS")}
    if not all(urls.values()):
        pytest.skip("Prometheus is not running (infra/prometheus.sh start; infra/test.sh exports its URLs)")
    prom, webhook, targets = (str(v) for v in urls.values())
    monkeypatch.setattr(cli_catalog, "out", Console(width=200))
    catalog = f"day-{uuid.uuid4().hex[:8]}"
    videos = tmp_path / "videos"
    videos.mkdir()
    clips = make_clips(clip_dir, 4)
    good, bad2, bad3 = (Path(shutil.copyfile(c, videos / f"vid-{i}.mp4")) for i, c in enumerate(clips[:3], 1))
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(videos)]))
    get_settings.cache_clear()
    manifest = tmp_path / f"{catalog}.csv"
    manifest.write_text("uri,external_id\n" + "".join(f"{p},{p.stem}\n" for p in (good, bad2, bad3)))
    started = time.monotonic()

    _cli("catalog", "ingest", str(manifest))
    server, port = serve(pg_url, "127.0.0.1", 0, 24.0)
    target = Path(targets) / f"emsync-day-{port}.json"
    target.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"]}]))

    def query(expr: str) -> list[dict[str, Any]]:
        return _get(f"{prom}/api/v1/query?query={urllib.parse.quote(expr)}")["data"]["result"]

    def alerts(name: str, state: str | None = None) -> list[dict[str, Any]]:
        return [a for a in _get(f"{prom}/api/v1/alerts")["data"]["alerts"]
                if a["labels"].get("alertname") == name and a["labels"].get("catalog") == catalog
                and (state is None or a["state"] == state)]

    try:
        _wait("Prometheus to scrape the catalog",
              lambda: query(f'emsync_failures_total{{catalog="{catalog}",stage="soundtrack"}}'))
        # Two videos go bad after registration (the source was overwritten): their runs fail on input.
        bad2.write_bytes(b"")
        bad3.write_bytes(b"not a video")
        result = _cli("catalog", "backfill", catalog, "--json", code=3)
        failures = json.loads(result.stdout)["failures"]  # named by external id and file, not database ids
        assert sorted((f["where"], Path(f["subject"]).name) for f in failures) == [
            ("vid-2", "vid-2.mp4"), ("vid-3", "vid-3.mp4")]

        (fired,) = _wait("the failure-rate alert to fire", lambda: alerts(RATE_ALERT, "firing"))
        assert fired["labels"]["severity"] == "page"

        def delivered() -> list[dict[str, Any]]:
            return [a for note in _get(webhook) for a in note["alerts"]
                    if a["labels"].get("alertname") == RATE_ALERT and a["labels"].get("catalog") == catalog]

        _wait("the webhook receiver to get the page", delivered)
        # The ticket that outlives the 15-minute rate: active (pending its 10 minutes) while videos stay failed.
        _wait("the outstanding-failures alert to become active", lambda: alerts(OUTSTANDING_ALERT))

        # vid-2: the fixed file replaces the content under the same external id, then is retried.
        fixed = Path(shutil.copyfile(clips[3], videos / "vid-2-fixed.mp4"))
        assert "new content" in _cli("catalog", "replace", catalog, "vid-2", str(fixed)).output
        _cli("catalog", "retry", catalog, "--external-id", "vid-2")
        result = _cli("catalog", "backfill", catalog, "--json")
        assert json.loads(result.stdout)["failures"] == []
        # vid-3 cannot be fixed: quarantined, the next scheduled runs are green.
        _cli("catalog", "quarantine", catalog, "vid-3", "--reason", "source lost")
        _cli("catalog", "score", catalog)
        _cli("catalog", "backfill", catalog)

        _wait("the outstanding-failures alert to resolve", lambda: not alerts(OUTSTANDING_ALERT), timeout=60)
        assert float(query(f'sum(emsync_failed_videos{{catalog="{catalog}"}})')[0]["value"][1]) == 0
        assert float(query(f'emsync_quarantined_videos{{catalog="{catalog}"}}')[0]["value"][1]) == 1
        status = json.loads(_cli("status", "--json").stdout)
        (row,) = [c for c in status["catalogs"] if c["name"] == catalog]
        assert (row["soundtracked"], row["failed"], row["quarantined"]) == (2, 0, 1)
        assert [q["video"] for q in status["quarantined"] if q["catalog"] == catalog] == ["vid-3"]
    finally:
        target.unlink(missing_ok=True)
        time.sleep(2)  # Prometheus drops the target (file SD) before the exporter goes
        server.shutdown()
        server.server_close()
    print(f"operator day: {time.monotonic() - started:.0f} s")
