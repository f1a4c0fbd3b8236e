"""Process start-up for every entry point (CLI, Prefect flows and workers): apply the thread budget once.

The budget is sized for the jobs the process runs at once (a catalog flow: `concurrency`) and then
stays as it is for the life of the process: jobs pass their share to the pools they own (decoder,
FluidSynth, ONNX Runtime sessions) and never change a process-wide pool, which every job shares.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flows.settings import Settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_report: dict[str, Any] | None = None


def apply_thread_budget(settings: Settings, jobs_in_process: int = 1) -> dict[str, Any]:
    """Size every thread pool in this process from the settings, the first time; returns the one
    record of what was applied (for reports).

    Later calls change nothing: a process sizes its pools once, at entry, for the jobs it will run.
    A later call that asks for another budget (a second flow in the same process with another
    concurrency) keeps the first, so no job's pools change under another's.
    """
    global _report
    from emsync_models.threads import MODEL_THREADS, apply_threads

    threads = settings.resolved_threads(jobs_in_process)
    with _lock:
        if _report is None:
            _report = {**apply_threads(threads, MODEL_THREADS).to_dict(), "jobs_in_process": jobs_in_process}
        elif _report["threads"] != threads:
            log.info("thread budget stays at %d per job (applied at process start), not %d",
                     _report["threads"], threads)
        return dict(_report)


def thread_budget_report() -> dict[str, Any] | None:
    """What `apply_thread_budget` set in this process (None if it was never called)."""
    return dict(_report) if _report is not None else None


def job_threads(settings: Settings) -> int:
    """Threads one job's own pools (decoder, FluidSynth) may use: the applied budget, else the setting's."""
    return _report["threads"] if _report is not None else settings.resolved_threads()
