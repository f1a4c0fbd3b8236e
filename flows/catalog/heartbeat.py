"""A lease kept alive by a background thread until its owner stops it or the lease is no longer held."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class LeaseHeartbeat:
    """Calls `renew()` every `period_s` until `stop()` or until `renew()` says the lease is gone
    (finished, or reaped): whoever ends the lease elsewhere also ends this thread, no registry needed."""

    def __init__(self, renew: Callable[[], bool], period_s: float, name: str) -> None:
        self._renew = renew
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=name, daemon=True)

    def start(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                if not self._renew():
                    return  # finished (or reaped): nothing left to renew
            except Exception:  # noqa: BLE001 - a missed beat is survivable; the next one may work
                log.warning("could not renew the lease of %s", self._thread.name, exc_info=True)
