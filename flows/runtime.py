"""Process start-up for every entry point (CLI, Prefect flows and workers): apply the thread budget once."""

from __future__ import annotations

from typing import Any

from flows.settings import Settings

_report: dict[str, Any] | None = None


def apply_thread_budget(settings: Settings, jobs_in_process: int = 1) -> dict[str, Any]:
    """Size every thread pool in this process from the settings; returns what was set (for reports).

    Idempotent: a second call with the same budget changes nothing, so each entry point may call it.
    """
    global _report
    from emsync_models.threads import apply_threads

    threads = settings.resolved_threads(jobs_in_process)
    if _report is None or _report["threads"] != threads:
        _report = {**apply_threads(threads).to_dict(), "jobs_in_process": jobs_in_process}
    return dict(_report)


def thread_budget_report() -> dict[str, Any] | None:
    """What `apply_thread_budget` set in this process (None if it was never called)."""
    return dict(_report) if _report is not None else None


def job_threads(settings: Settings) -> int:
    """Threads one job's own pools (decoder, FluidSynth) may use: the applied budget, else the setting's."""
    return _report["threads"] if _report is not None else settings.resolved_threads()
