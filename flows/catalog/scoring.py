"""The scoring fan-out: cut and score each video with a bounded number in flight; outages recorded."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger

from db.session import with_db_retry
from flows.catalog import queries, recovery
from flows.catalog.reports import artifact_key, mean
from flows.catalog.submission import bounded_submit, result_or_error
from flows.catalog.tasks import ScoreOutcome, score_video
from flows.ops.progress import RunProgress
from flows.settings import Settings


def score_videos(settings: Settings, catalog_id: int, name: str, todo: list[int], versions: dict[str, str],
                 link: int) -> list[ScoreOutcome]:
    logger = get_run_logger()
    url = settings.store.resolved_database_url
    scored: list[ScoreOutcome] = []
    progress = RunProgress("score", name, len(todo), versions, artifact_key=artifact_key("score-progress", name))

    def submit(video_id: int) -> Any:  # noqa: ANN401 - a Prefect future
        progress.started(recovery.member_name(url, catalog_id, video_id))
        return score_video.submit(url, catalog_id, video_id, link)

    def collect(video_id: int, future: Any) -> None:  # noqa: ANN401
        result, exc = result_or_error(future)
        if exc is not None:
            reason = f"{type(exc).__name__}: {exc}"
            with_db_retry(
                settings.batch.db_retry_window_s,
                queries.record_problem,
                url,
                stage="score",
                subject=recovery.member_names(url, catalog_id, [video_id])[video_id][1] or f"video {video_id}",
                reason=reason,
                kind="infra",
                catalog_id=catalog_id,
                video_id=video_id,
                flow_run_id=link,
            )
            result = ScoreOutcome(video_id, 0, None, None, reason)
        if result.error is not None:
            logger.warning("%s failed to score: %s", recovery.member_name(url, catalog_id, video_id), result.error)
        scored.append(result)
        progress.finished(recovery.member_name(url, catalog_id, video_id), result.error is None)

    bounded_submit(submit, todo, settings.batch.concurrency, collect)
    return scored


def score_failures(url: str, catalog_id: int, scored: list[ScoreOutcome]) -> list[dict[str, Any]]:
    # The operator's names for the videos (external id, source), not database ids.
    named = recovery.member_names(url, catalog_id, [s.video_id for s in scored if s.error is not None])
    return [{"where": named[s.video_id][0], "subject": named[s.video_id][1], "reason": s.error}
            for s in scored if s.error is not None]


def score_counts(todo: list[int], scored: list[ScoreOutcome]) -> dict[str, Any]:
    ok = [s for s in scored if s.error is None]
    return {
        "to score": len(todo),
        "scored": len(ok),
        "score failures": len(scored) - len(ok),
        "mean valence": mean([s.valence for s in ok]),  # type: ignore[misc]
        "mean arousal": mean([s.arousal for s in ok]),  # type: ignore[misc]
    }
