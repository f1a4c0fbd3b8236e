"""A minimal Alertmanager webhook receiver (standard library only): the example integration.

    python3 infra/alertmanager/webhook_receiver.py --port 9095 --out alerts.jsonl

Each notification Alertmanager POSTs (version 4 of its webhook JSON) is appended as one line to `--out`
and logged as one line per alert ("firing EmsyncSoundtrackFailureRate catalog=films: <summary>");
`GET /alerts` answers every notification received so far, as a JSON list (what the tests read). A real
integration would forward the same JSON to the team's incident tool instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 1 << 20


class Receiver(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], out: Path) -> None:
        super().__init__(address, Handler)
        self.out = out
        self.lock = threading.Lock()

    def record(self, notification: dict[str, Any]) -> None:
        with self.lock, self.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(notification, sort_keys=True) + "\n")
        for alert in notification.get("alerts", []):
            labels = alert.get("labels", {})
            where = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
            summary = alert.get("annotations", {}).get("summary", "")
            print(f"{alert.get('status')} {labels.get('alertname')} {where}: {summary}", flush=True)

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            if not self.out.exists():
                return []
            return [json.loads(line) for line in self.out.read_text(encoding="utf-8").splitlines() if line]


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def _answer(self, code: int, body: Any) -> None:  # noqa: ANN401 - any JSON value
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        if self.path != "/alerts" or not 0 < length <= MAX_BODY:
            self._answer(400, {"error": "POST Alertmanager's webhook JSON to /alerts"})
            return
        try:
            notification = json.loads(self.rfile.read(length))
        except ValueError:
            self._answer(400, {"error": "not JSON"})
            return
        if not isinstance(notification, dict) or not isinstance(notification.get("alerts"), list):
            self._answer(400, {"error": "not an Alertmanager notification (no alerts list)"})
            return
        self.server.record(notification)
        self._answer(200, {"status": "ok"})

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/alerts":
            self._answer(200, self.server.received())
        elif self.path == "/-/ready":
            self._answer(200, {"status": "ready"})
        else:
            self._answer(404, {"error": "GET /alerts"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401 - http.server's signature
        pass  # one line per alert (record) is the log; per-request lines would only repeat it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9095)
    parser.add_argument("--out", type=Path, required=True, help="append each notification here (JSON lines)")
    args = parser.parse_args(argv)
    server = Receiver((args.host, args.port), args.out)
    print(f"listening on http://{args.host}:{server.server_address[1]}/alerts", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
