"""When a catalog run counts as failed, and the exit codes the CLI maps outcomes to.

A flow that catches its tasks' failures would otherwise end Completed, and Prefect's UI, automations
and a cron job's exit code could not see it.
"""

from __future__ import annotations

from typing import Any

# Exit codes of `emsync` (documented in README.md): scripts and cron jobs branch on these.
EXIT_OK = 0  # everything asked for was done
EXIT_INFRA = 1  # a server, tool or disk failed: retry later
EXIT_BAD_INPUT = 2  # the command's own input is wrong: fix the arguments or the file
EXIT_SOME_FAILED = 3  # the run finished, but some videos or rows failed (named in the output)


class CatalogRunFailed(Exception):
    """A catalog run finished, but more of its videos or rows failed than the threshold allows.

    The data of the flow's Failed state: calling the flow directly raises it, and `return_state=True`
    callers (the CLI) read the run's full summary from `.summary`.
    """

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message, summary)  # both in args, so it pickles into Prefect's result store
        self.message, self.summary = message, summary

    def __str__(self) -> str:
        return self.message


def failed_share(failed: int, total: int) -> float:
    return failed / total if total > 0 else 0.0


def exceeds_threshold(failed: int, total: int, threshold: float) -> bool:
    """True when the failed share is over `threshold`; 0 means any failure at all."""
    return failed > 0 and failed_share(failed, total) > threshold


def failure_message(kind: str, catalog: str, failed: int, total: int, noun: str = "videos") -> str:
    return f"{kind} {catalog}: {failed} of {total} {noun} failed"


def exit_code_for(result: dict[str, Any]) -> int:
    """0 when a summary names no failures, else 3 (failures are named in the summary)."""
    return EXIT_SOME_FAILED if result.get("failures") else EXIT_OK
