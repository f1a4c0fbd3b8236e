"""What a catalog run tells people: Prefect artifacts, and its end state against the failure threshold."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed, State

from flows.ops.logs import install_expected_outcome_filter
from flows.ops.outcome import CatalogRunFailed, exceeds_threshold, failure_message
from flows.settings import get_settings

# Wherever a flow can end Failed with CatalogRunFailed (the CLI, a worker's flow-run process: both import
# this module to run a catalog flow), Prefect's engine must not log it as an unexpected exception with a
# traceback: the flow logged its one WARNING line.
install_expected_outcome_filter()


def artifact_key(prefix: str, name: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return f"{prefix}-{slug}"[:100] or prefix


def run_result(
    kind: str, catalog: str, result: dict[str, Any], failed: int, total: int, noun: str
) -> dict[str, Any] | State:
    """The flow's return value: the summary, or a Failed state carrying it when too much failed.

    Every other item has been processed by now; Failed only tells Prefect (and the CLI's exit code) that
    the run did not do all it owed.
    """
    threshold = get_settings().batch.failure_threshold
    if exceeds_threshold(failed, total, threshold):
        message = failure_message(kind, catalog, failed, total, noun)
        get_run_logger().warning("%s (over the failure threshold %.0f%%)", message, 100 * threshold)
        return Failed(message=message, data=CatalogRunFailed(message, result))
    return result


def summary_artifacts(
    kind: str,
    catalog: str,
    summary: dict[str, Any],
    failures: list[dict[str, Any]],
    did_work: bool,
    model_versions: dict[str, str] | None = None,
) -> None:
    """The run's summary as artifacts. Only a run that did work writes the catalog's keyed artifact,
    so a later no-op run does not replace the last useful summary with "to score 0"."""
    lines = [f"# {kind}: {catalog}", "", "| measure | value |", "|---|---|"]
    if model_versions:
        lines.append(f"| models | {', '.join(f'{k} {v}' for k, v in sorted(model_versions.items()))} |")
    for key, value in summary.items():
        shown = f"{value:+.3f}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    if failures:
        lines += ["", f"## Failures ({len(failures)})", "", "| row / video | subject | reason |", "|---|---|---|"]
        for f in failures[:200]:
            reason = str(f["reason"]).replace("|", "\\|")
            lines.append(f"| {f.get('where', '')} | {str(f['subject'])[:120]} | {reason[:300]} |")
    if not did_work:
        lines += ["", "Nothing to do: the catalog's keyed artifact keeps the last run that did work."]
    create_markdown_artifact(
        markdown="\n".join(lines),
        key=artifact_key(kind, catalog) if did_work else None,
        description=f"{kind} summary for {catalog}",
    )
    if failures and did_work:
        create_table_artifact(
            table=[{k: str(v) for k, v in f.items()} for f in failures[:1000]],
            key=artifact_key(f"{kind}-failures", catalog),
            description=f"{kind} failures for {catalog}",
        )


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
