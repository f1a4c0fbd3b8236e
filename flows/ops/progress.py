"""Live progress of a catalog run: a Prefect progress artifact updated as videos finish, and the same
events for whoever listens in this process (the CLI prints them: a rich bar on a terminal, plain lines
otherwise).

A run with nothing to do creates no keyed artifact, so a catalog's latest artifact keeps the last run
that did work instead of a "0 of 0".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProgressEvent:
    kind: str  # ingest | score | backfill
    catalog: str
    done: int
    total: int
    failed: int
    elapsed_s: float
    eta_s: float | None
    current: str | None
    model_versions: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        """One plain line: "backfill shows: 3 of 10 (1 failed), elapsed 12s, ETA 28s, current video 7"."""
        eta = "?" if self.eta_s is None else f"{self.eta_s:.0f}s"
        failed = f" ({self.failed} failed)" if self.failed else ""
        current = f", current {self.current}" if self.current else ""
        return (
            f"{self.kind} {self.catalog}: {self.done} of {self.total}{failed}, "
            f"elapsed {self.elapsed_s:.0f}s, ETA {eta}{current}"
        )


Listener = Callable[[ProgressEvent], None]
_listeners: list[Listener] = []
_listeners_lock = threading.Lock()


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call `listener` with every progress event of runs in this process while the block runs."""
    with _listeners_lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _listeners_lock:
            _listeners.remove(listener)


def eta_seconds(done: int, total: int, elapsed_s: float) -> float | None:
    """Remaining time at the mean pace so far; None before the first item finishes."""
    if done <= 0 or total <= 0:
        return None
    return max(0.0, elapsed_s / done * (total - done))


def _versions_text(versions: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "n/a"


PUBLISH_EVERY_S = 1.0


class RunProgress:
    """Counts finished items of one run and publishes each step (Prefect artifact + listeners)."""

    def __init__(
        self,
        kind: str,
        catalog: str,
        total: int,
        model_versions: dict[str, str] | None = None,
        artifact_key: str | None = None,
    ) -> None:
        self.kind, self.catalog, self.total = kind, catalog, total
        self.model_versions = dict(model_versions or {})
        self.done = self.failed = 0
        self._started = time.monotonic()
        self._inflight: list[str] = []
        self._lock = threading.Lock()
        self._artifact_id: Any = None
        self._published = float("-inf")
        if total > 0:
            self._artifact_id = self._create_artifact(artifact_key)
        self._publish(force=True)

    def _description(self, event: ProgressEvent) -> str:
        return f"{event.line()}; models: {_versions_text(self.model_versions)}"

    def _create_artifact(self, key: str | None) -> Any:  # noqa: ANN401 - Prefect's artifact id
        from prefect.artifacts import create_progress_artifact
        from prefect.context import FlowRunContext

        if FlowRunContext.get() is None:
            return None  # called outside a flow run (unit tests of the counting)
        return create_progress_artifact(progress=0.0, key=key, description=self._description(self.event()))

    def event(self) -> ProgressEvent:
        elapsed = time.monotonic() - self._started
        return ProgressEvent(
            kind=self.kind,
            catalog=self.catalog,
            done=self.done,
            total=self.total,
            failed=self.failed,
            elapsed_s=elapsed,
            eta_s=eta_seconds(self.done, self.total, elapsed),
            current=self._inflight[-1] if self._inflight else None,
            model_versions=self.model_versions,
        )

    def started(self, subject: str) -> None:
        with self._lock:
            self._inflight.append(subject)
        self._publish()

    def finished(self, subject: str, ok: bool) -> None:
        with self._lock:
            if subject in self._inflight:
                self._inflight.remove(subject)
            self.done += 1
            self.failed += 0 if ok else 1
            self.total = max(self.total, self.done)
        self._publish(force=self.done >= self.total)

    def _publish(self, force: bool = False) -> None:
        """At most one update a second (and the last): each is an API call and a printed line, which at
        one per row cost an ingest more than registering the row did."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._published < PUBLISH_EVERY_S:
                return
            self._published = now
        event = self.event()
        if self._artifact_id is not None:
            from prefect.artifacts import update_progress_artifact

            percent = 100.0 * event.done / event.total if event.total else 100.0
            update_progress_artifact(self._artifact_id, percent, description=self._description(event))
        with _listeners_lock:
            listeners = list(_listeners)
        for listener in listeners:
            listener(event)
