"""End to end: a failing backfill makes Prometheus (Debian's, started by infra/prometheus.sh) fire the
failure-rate alert from the exporter's metrics, and the alert reaches Alertmanager."""

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

from flows.catalog.flows import backfill, ingest_catalog
from flows.ops.metrics import serve
from flows.settings import get_settings
from tests.clips import make_clips

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ALERT = "EmsyncSoundtrackFailureRate"


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


@pytest.fixture
def prometheus() -> tuple[str, str, Path]:
    urls = [os.environ.get(k) for k in ("EMSYNC_TEST_PROMETHEUS_URL", "EMSYNC_TEST_ALERTMANAGER_URL")]
    targets = os.environ.get("EMSYNC_PROMETHEUS_TARGETS")
    if not all(urls) or not targets:
        pytest.skip("Prometheus is not running (infra/prometheus.sh start; infra/test.sh exports its URLs)")
    return str(urls[0]), str(urls[1]), Path(targets)


def test_failing_backfill_fires_the_alert_into_alertmanager(
    prefect_api: str, pg_url: str, prometheus: tuple[str, str, Path], clip_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prom, alertmanager, targets = prometheus
    catalog = f"alerting-{uuid.uuid4().hex[:8]}"
    videos = tmp_path / "videos"
    videos.mkdir()
    clips = [Path(shutil.copyfile(c, videos / f"{i}.mp4")) for i, c in enumerate(make_clips(clip_dir, 2))]
    monkeypatch.setenv("EMSYNC_DATABASE_URL", pg_url)
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(videos)]))
    get_settings.cache_clear()
    manifest = tmp_path / f"{catalog}.csv"
    manifest.write_text("uri\n" + "".join(f"{p}\n" for p in clips))
    assert ingest_catalog(str(manifest))["registered"] == 2

    server, port = serve(pg_url, "127.0.0.1", 0, 24.0)
    target = targets / f"emsync-test-{port}.json"
    target.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"]}]))
    try:
        query = urllib.parse.quote(f'emsync_failures_total{{catalog="{catalog}",stage="soundtrack"}}')
        _wait("Prometheus to scrape the catalog's zero failure count",
              lambda: _get(f"{prom}/api/v1/query?query={query}")["data"]["result"])
        for clip in clips:  # both videos go bad after registration: every run fails on input
            clip.write_bytes(b"")
        state = backfill(catalog, return_state=True)
        assert state.is_failed()

        def firing() -> list[dict[str, Any]]:
            alerts = _get(f"{prom}/api/v1/alerts")["data"]["alerts"]
            return [a for a in alerts if a["labels"].get("alertname") == ALERT
                    and a["labels"].get("catalog") == catalog and a["state"] == "firing"]

        (alert,) = _wait("the failure-rate alert to fire in Prometheus", firing)
        assert float(alert["value"]) == pytest.approx(1.0)
        assert alert["labels"]["severity"] == "page"

        def received() -> list[dict[str, Any]]:
            alerts = _get(f"{alertmanager}/api/v2/alerts?filter=" + urllib.parse.quote(f'alertname="{ALERT}"'))
            return [a for a in alerts if a["labels"].get("catalog") == catalog]

        (routed,) = _wait("Alertmanager to receive the alert", received)
        assert routed["status"]["state"] == "active" and routed["receivers"][0]["name"] == "ops"
        assert "100% of soundtrack runs failed" in routed["annotations"]["summary"]

        webhook = os.environ.get("EMSYNC_TEST_ALERT_WEBHOOK_URL")
        if webhook:  # the example receiver infra/prometheus.sh runs behind Alertmanager
            def delivered() -> list[dict[str, Any]]:
                return [a for note in _get(webhook) for a in note["alerts"]
                        if a["labels"].get("alertname") == ALERT and a["labels"].get("catalog") == catalog]

            (notified, *_) = _wait("the webhook receiver to get the alert", delivered)
            assert notified["status"] == "firing"
    finally:
        target.unlink(missing_ok=True)
        time.sleep(2)  # Prometheus drops the target (file SD watches the folder) before the exporter goes
        server.shutdown()
        server.server_close()
