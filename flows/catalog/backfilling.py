"""The backfill fan-out: claim the next pending run only when a slot is free, soundtrack it, and record
a run whose task failed after its retries; on interruption, hand back the claims this owner holds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prefect import get_run_logger
from sqlalchemy.exc import InterfaceError, OperationalError

from db.session import with_db_retry
from flows.catalog import pinning, recovery, work
from flows.catalog.identity import JobIdentity
from flows.catalog.reports import artifact_key, mean
from flows.catalog.submission import bounded_submit, result_or_error
from flows.catalog.tasks import SoundtrackOutcome, soundtrack_claimed_video
from flows.ops.progress import RunProgress
from flows.settings import Settings
from flows.storage.persist import record_failure


def soundtrack_pending(settings: Settings, catalog_id: int, catalog: str, job: JobIdentity, todo: int,
                       limit: int | None, link: int) -> list[SoundtrackOutcome]:
    """`settings`: with the catalog's music model (flows.catalog.pinning), which each task uses too."""
    logger = get_run_logger()
    url = settings.store.resolved_database_url
    owner = work.new_owner()
    outcomes: list[SoundtrackOutcome] = []
    progress = RunProgress(
        "backfill", catalog, todo, pinning.labeled(job.model_versions),
        artifact_key=artifact_key("backfill-progress", catalog),
    )

    def submit(claim: work.Claim) -> Any:  # noqa: ANN401 - a Prefect future
        progress.started(recovery.member_name(url, catalog_id, claim.video_id))
        return soundtrack_claimed_video.submit(claim, job, catalog_id, link, settings.models.music_model)

    def claims() -> Iterable[work.Claim]:
        taken = 0
        while limit is None or taken < limit:
            claim = with_db_retry(
                settings.batch.db_retry_window_s, work.claim_next, url, catalog_id, job.fingerprint, owner,
                settings.batch.lease_s)
            if claim is None:
                return
            taken += 1
            yield claim

    def collect(claim: work.Claim, future: Any) -> None:  # noqa: ANN401
        result, exc = result_or_error(future)
        if isinstance(exc, OperationalError | InterfaceError):
            # The database stayed away past its retry window: an outage (exit 1), not this video's failure.
            raise exc
        if exc is not None:
            reason = f"{type(exc).__name__}: {exc}"
            logger.error("%s failed after retries: %s", recovery.member_name(url, catalog_id, claim.video_id), reason)
            with_db_retry(
                settings.batch.db_retry_window_s,
                record_failure,
                settings,
                source_uri=claim.source_uri,
                content_hash=claim.content_hash,
                params=job.params,
                model_versions=job.model_versions,
                error=reason,
                kind="infra",
                run_key=claim.run_key,
                catalog_id=catalog_id,
                flow_run_id=link,
            )
            result = SoundtrackOutcome(claim.run_id, claim.video_id, "failed", {}, None, None, reason)
        if result.status != "succeeded":
            name = recovery.member_name(url, catalog_id, claim.video_id)
            logger.warning("%s (%s) failed: %s", name, claim.source_uri, result.error)
        outcomes.append(result)
        progress.finished(recovery.member_name(url, catalog_id, claim.video_id), result.status == "succeeded")

    try:
        bounded_submit(submit, claims(), settings.batch.concurrency, collect)
    except BaseException:
        # Cancelled or interrupted: hand back what we hold so a re-run need not wait for leases.
        for run_id, holder in work.stale_running(url):
            if holder == owner:
                work.release(url, run_id, owner)
        raise
    return outcomes


def backfill_counts(settings: Settings, catalog_id: int, job: JobIdentity, outcomes: list[SoundtrackOutcome],
                    reaped: int) -> dict[str, Any]:
    ok = [o for o in outcomes if o.status == "succeeded"]
    after = with_db_retry(settings.batch.db_retry_window_s, work.job_counts, settings.store.resolved_database_url,
                          catalog_id, job.fingerprint)
    return {
        "processed": len(outcomes),
        "succeeded": len(ok),
        "failed": len(outcomes) - len(ok),
        "reclaimed": reaped,
        "remaining": after["pending"] + after["running"],
        "total soundtracked": after["succeeded"],
        "mean valence": mean([o.valence for o in ok]),  # type: ignore[misc]
        "mean arousal": mean([o.arousal for o in ok]),  # type: ignore[misc]
    }


def backfill_failures(url: str, catalog_id: int, outcomes: list[SoundtrackOutcome]) -> list[dict[str, Any]]:
    failed = [o for o in outcomes if o.status != "succeeded"]
    named = recovery.member_names(url, catalog_id, [o.video_id for o in failed])
    return [{"where": named[o.video_id][0], "subject": named[o.video_id][1], "reason": o.error} for o in failed]
