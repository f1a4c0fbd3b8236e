"""The ingest step that `score_catalog` and `ingest_catalog` share: read a manifest, register its
catalog, check every row, then register the rows in batches with a bounded number in flight."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from db.session import with_db_retry
from flows.catalog import queries
from flows.catalog.manifest import ManifestRow, rebase_on_bucket, resolve_source
from flows.catalog.reports import artifact_key
from flows.catalog.submission import batches, bounded_submit, result_or_error
from flows.catalog.tasks import (
    RowOutcome,
    read_manifest_task,
    record_manifest_problems,
    register_catalog,
    register_videos,
)
from flows.ops.progress import RunProgress
from flows.settings import get_settings
from flows.storage.sources import materialize


def ingest_manifest(url: str, manifest_path: str, catalog: str | None, flow_link: int) -> tuple[int, str, dict]:
    """Steps shared by `score_catalog` and `ingest_catalog`: read, register, report row problems."""
    logger = get_run_logger()
    settings = get_settings()
    name = catalog or Path(manifest_path).stem
    manifest_uri = manifest_path
    if manifest_path.startswith("s3://"):
        # A manifest kept in a bucket (the scheduled deployment's usual case): read a fresh copy, from
        # inside the S3 fence only (the scheduled deployment reaches here without the CLI's check).
        resolve_source(manifest_path, Path("."), [], settings.store.resolved_allowed_s3_sources)
        manifest_path = str(materialize(settings, manifest_path, refresh=True)[0])
    manifest = read_manifest_task(manifest_path)
    if manifest_uri.startswith("s3://"):
        manifest = replace(manifest, path=manifest_uri, rows=rebase_on_bucket(manifest.rows, manifest_uri))
    catalog_id = register_catalog(url, name)
    record_manifest_problems(url, catalog_id, manifest, flow_link)
    for problem in manifest.problems:
        logger.warning("manifest row %d (%s): %s", problem.row, problem.subject, problem.reason)
    base_dir = str(Path(manifest_path).resolve().parent)
    outcomes: list[RowOutcome] = []
    # Each row is checked where it is registered (register_videos): a row's problem stays that row's,
    # and no row is resolved twice.
    rows: list[ManifestRow] = list(manifest.rows)
    progress = RunProgress("ingest", name, len(manifest.rows), artifact_key=artifact_key("ingest-progress", name))

    def submit(batch: list[ManifestRow]) -> Any:  # noqa: ANN401 - a Prefect future
        progress.started(f"rows {batch[0].row}-{batch[-1].row}")
        return register_videos.submit(url, catalog_id, batch, base_dir, flow_link)

    def collect(batch: list[ManifestRow], future: Any) -> None:  # noqa: ANN401
        result, exc = result_or_error(future)
        subject = f"rows {batch[0].row}-{batch[-1].row}"
        if exc is None:
            outcomes.extend(result)
            for outcome in result:
                progress.finished(subject, outcome.problem is None)
            return
        for row in batch:  # the whole batch hit an outage after its retries
            outcomes.append(RowOutcome(row.row, row.uri, None, f"{type(exc).__name__}: {exc}"))
            with_db_retry(
                settings.batch.db_retry_window_s,
                queries.record_problem,
                url,
                stage="register",
                subject=row.uri,
                reason=f"{type(exc).__name__}: {exc}",
                kind="infra",
                catalog_id=catalog_id,
                row_number=row.row,
                flow_run_id=flow_link,
            )
            progress.finished(subject, False)

    bounded_submit(
        submit,
        batches(rows, settings.batch.batch_size),
        settings.batch.concurrency,
        collect,
    )
    bad_rows = [o for o in outcomes if o.problem is not None]
    for o in bad_rows:
        logger.warning("row %d (%s): %s", o.row, o.uri, o.problem)
    failures = [{"where": f"row {p.row}", "subject": p.subject, "reason": p.reason} for p in manifest.problems]
    failures += [{"where": f"row {o.row}", "subject": o.uri, "reason": o.problem} for o in bad_rows]
    counts = {
        "manifest rows": len(manifest.rows) + len(manifest.problems),
        "registered": sum(1 for o in outcomes if o.video_id is not None and o.problem is None),
        "rejected rows": len(failures),
    }
    return catalog_id, name, {"counts": counts, "failures": failures}
