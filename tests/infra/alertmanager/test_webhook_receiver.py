"""The example Alertmanager receiver: a webhook. Unit-level against the receiver itself, and end to end
through the Alertmanager that infra/prometheus.sh runs with the repository's config."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.alertmanager.webhook_receiver import Receiver


def _get(url: str) -> Any:  # noqa: ANN401
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, body: Any) -> int:  # noqa: ANN401
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    server = Receiver(("127.0.0.1", 0), tmp_path / "alerts.jsonl")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()


def test_receiver_keeps_notifications_and_refuses_other_posts(
    receiver: str, capsys: pytest.CaptureFixture[str]
) -> None:
    note = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "EmsyncFlowRunFailed", "catalog": "films", "severity": "page"},
         "annotations": {"summary": "backfill failed"}}]}
    assert _post(receiver, note) == 200
    assert _post(receiver, {"hello": 1}) == 400
    assert _post(receiver.replace("/alerts", "/other"), note) == 400
    assert _get(receiver) == [note]
    assert "firing EmsyncFlowRunFailed catalog=films: backfill failed" in capsys.readouterr().out


@pytest.mark.integration
def test_alertmanager_delivers_to_the_webhook() -> None:
    names = ("EMSYNC_TEST_ALERTMANAGER_URL", "EMSYNC_TEST_ALERT_WEBHOOK_URL")
    alertmanager, webhook = (os.environ.get(k) for k in names)
    if not alertmanager or not webhook:
        pytest.skip("Alertmanager is not running (infra/prometheus.sh start; infra/test.sh exports its URLs)")
    catalog = f"webhook-{uuid.uuid4().hex[:8]}"
    alert = {"labels": {"alertname": "EmsyncFailedVideosOutstanding", "catalog": catalog, "stage": "soundtrack",
                        "severity": "ticket"},
             "annotations": {"summary": f"catalog {catalog}: 2 videos left failed at soundtrack"}}
    assert _post(f"{alertmanager}/api/v2/alerts", [alert]) == 200

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        delivered = [a for note in _get(webhook) for a in note["alerts"] if a["labels"].get("catalog") == catalog]
        if delivered:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("Alertmanager never delivered the alert to the webhook receiver")
    assert delivered[0]["status"] == "firing"
    assert delivered[0]["annotations"]["summary"] == alert["annotations"]["summary"]
