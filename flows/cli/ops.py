"""`emsync metrics serve` and `emsync dashboard` (registered in flows.cli.app), and the progress
printer the catalog commands use."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from flows.cli.common import err, user_errors
from flows.ops.progress import ProgressEvent, listening
from flows.settings import get_settings


@contextmanager
def print_progress(stream_is_tty: bool | None = None) -> Iterator[None]:
    """Print catalog-run progress on stderr: a live rich bar on a terminal, one plain line per finished
    item otherwise (logs, cron mail, CI)."""
    tty = sys.stderr.isatty() if stream_is_tty is None else stream_is_tty
    if not tty:
        last_done = [-1]

        def plain(event: ProgressEvent) -> None:
            if event.done != last_done[0] and event.total > 0:
                last_done[0] = event.done
                print(event.line(), file=sys.stderr, flush=True)

        with listening(plain):
            yield
        return

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[current]}"),
    )
    lock = threading.Lock()
    with Progress(*columns, console=err, transient=False) as bar:
        tasks: dict[tuple[str, str], int] = {}

        def live(event: ProgressEvent) -> None:
            with lock:
                key = (event.kind, event.catalog)
                if key not in tasks:
                    if event.total <= 0:
                        return
                    tasks[key] = bar.add_task(f"{event.kind} {event.catalog}", total=event.total, current="")
                failed = f" ({event.failed} failed)" if event.failed else ""
                bar.update(tasks[key], completed=event.done, total=event.total,
                           current=f"{event.current or ''}{failed}")

        with listening(live):
            yield


def metrics_serve(
    host: Annotated[str | None, typer.Option(help="address to listen on (default: settings)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: settings, EMSYNC_METRICS_PORT)")] = None,
) -> None:
    """Serve Prometheus metrics over the metadata database at http://HOST:PORT/metrics until stopped."""
    from db.session import ensure_schema, safe_url
    from flows.ops.metrics import serve

    settings = get_settings()
    url, ops = settings.store.resolved_database_url, settings.ops
    with user_errors():
        ensure_schema(url)  # a fresh database scrapes as empty, and a broken URL fails here, not per scrape
        server, bound = serve(url, host or ops.metrics_host, ops.metrics_port if port is None else port,
                              ops.metrics_lookback_h, ops.metrics_aggregate_ttl_s)
    err.print(f"metrics for {safe_url(url)} at http://{host or ops.metrics_host}:{bound}/metrics",
              highlight=False, soft_wrap=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


def dashboard(
    host: Annotated[str | None, typer.Option(help="address to listen on (default: settings)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: settings, EMSYNC_DASHBOARD_PORT)")] = None,
) -> None:
    """Serve the one-machine dashboard (catalogs, failures, throughput, stages, emotions, models)."""
    import uvicorn

    from db.session import safe_url
    from flows.ops.dashboard import create_app

    settings = get_settings()
    url = settings.store.resolved_database_url
    bind_host, bind_port = host or settings.ops.dashboard_host, settings.ops.dashboard_port if port is None else port
    with user_errors():
        app = create_app(url, settings.ops.dashboard_refresh_s)
        # Bound here, so the line below names the real port (port 0: any free one) and a port in use
        # is one error line before the server starts.
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_host, bind_port))
        sock.listen(128)  # connections made as soon as the line is printed wait for the server
    bound = sock.getsockname()[1]
    shown = f"[{bind_host}]" if family == socket.AF_INET6 else bind_host
    err.print(f"dashboard for {safe_url(url)} at http://{shown}:{bound}/", highlight=False, soft_wrap=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
