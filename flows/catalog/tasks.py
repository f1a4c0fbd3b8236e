"""The catalog flows' tasks: each one idempotent step that takes ids and paths (never sessions or
clients), retries with exponential backoff on infrastructure errors, and never retries bad input
(`InputError`), which is recorded in the database and reported per row instead."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import task
from prefect.tasks import exponential_backoff

from db.session import with_db_retry
from emsync_models.errors import as_input_error, is_input_problem
from flows.catalog import pinning, queries, work
from flows.catalog.identity import JobIdentity
from flows.catalog.manifest import Manifest, ManifestRow, read_manifest, resolve_source
from flows.settings import Settings, get_settings
from flows.storage.persist import record_failure
from flows.storage.sources import materialize

INFRA_RETRIES = 3


def _is_infra_failure(_task: Any, _task_run: Any, state: Any) -> bool:  # noqa: ANN401 - Prefect's hook types
    """Retry condition: anything but bad input may be a passing outage."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - every error but bad input is worth another try
        return not is_input_problem(exc)
    return False


RETRY = {
    "retries": INFRA_RETRIES,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": _is_infra_failure,
}


@task(name="read-manifest")
def read_manifest_task(manifest: str) -> Manifest:
    return read_manifest(Path(manifest))


@task(name="register-catalog", **RETRY)
def register_catalog(url: str, name: str, description: str | None = None) -> int:
    return queries.ensure_catalog(url, name, description)


@task(name="record-manifest-problems", **RETRY)
def record_manifest_problems(url: str, catalog_id: int, manifest: Manifest, flow_link: int) -> int:
    for problem in manifest.problems:
        queries.record_problem(
            url,
            stage="manifest",
            subject=problem.subject,
            reason=problem.reason,
            catalog_id=catalog_id,
            row_number=problem.row,
            flow_run_id=flow_link,
        )
    return len(manifest.problems)


@dataclass(frozen=True)
class RowOutcome:
    row: int
    uri: str
    video_id: int | None
    problem: str | None


@task(name="register-videos", **RETRY)
def register_videos(
    url: str, catalog_id: int, rows: list[ManifestRow], base_dir: str, flow_link: int
) -> list[RowOutcome]:
    """Check, hash, probe and register one batch of manifest rows; bad rows are recorded, not raised."""
    from flows.job import stored_or_probed

    settings = get_settings()
    problems: dict[int, str] = {}

    def row_problem(row: ManifestRow, exc: Exception) -> None:
        # An unreadable file, a symlink loop: this row's problem; anything else may be an outage (retried).
        converted = as_input_error(exc, row.uri)
        if converted is None:
            raise exc
        problems[row.row] = converted.problem

    # Check and hash every row, then probe those whose content has no registered probe (a re-ingest
    # probes nothing it probed before: same bytes, same headers), then register the good ones in one
    # transaction.
    hashed: list[tuple[ManifestRow, str, Path, str]] = []
    for row in rows:
        try:
            source = resolve_source(
                row.uri, Path(base_dir), settings.store.allowed_roots, settings.store.resolved_allowed_s3_sources
            )
            local, digest = materialize(settings, source.uri, refresh=True)
        except Exception as exc:
            row_problem(row, exc)
            continue
        hashed.append((row, source.uri, local, digest))
    known = queries.stored_probes(url, [digest for *_, digest in hashed])
    checked: list[tuple[ManifestRow, queries.Member]] = []
    for row, uri, local, digest in hashed:
        try:
            probe = stored_or_probed(local, settings, known.get(digest)).to_dict()
        except Exception as exc:
            row_problem(row, exc)
            continue
        checked.append((row, queries.Member(digest, uri, probe, row.external_id, row.metadata)))
    registered = queries.add_members(url, catalog_id, [m for _, m in checked])
    video_ids: dict[int, int | None] = {}
    for (row, _), (video_id, problem) in zip(checked, registered, strict=True):
        video_ids[row.row] = video_id
        if problem is not None:
            problems[row.row] = problem
    outcomes: list[RowOutcome] = []
    for row in rows:
        problem = problems.get(row.row)
        video_id = video_ids.get(row.row)
        if problem is not None:
            queries.record_problem(
                url,
                stage="register",
                subject=row.uri,
                reason=problem,
                catalog_id=catalog_id,
                video_id=video_id,
                row_number=row.row,
                flow_run_id=flow_link,
            )
        outcomes.append(RowOutcome(row.row, row.uri, video_id, problem))
    return outcomes


@dataclass(frozen=True)
class ScoreOutcome:
    video_id: int
    cuts: int
    valence: float | None
    arousal: float | None
    error: str | None


@task(name="score-video", **RETRY)
def score_video(url: str, catalog_id: int, video_id: int, flow_link: int) -> ScoreOutcome:
    """Detect cuts and score emotions for one video; idempotent (rows replaced per model version)."""
    from flows.inference import emotion_analyzer
    from flows.soundtrack import analyze_emotion, cut_model_version, decode_once, probe_input

    settings = get_settings()
    content_hash, uri = queries.video_source(url, video_id, catalog_id)
    try:
        local, digest = materialize(settings, uri, expected_sha256=content_hash)
        probe, cuts, tracks = decode_once(local, probe_input(local, settings), settings, emotion_analyzer(settings),
                                          digest)
        emotion = analyze_emotion(local, cuts, probe.duration_s, settings, tracks=tracks)
    except Exception as caught:
        exc = as_input_error(caught, uri)
        if exc is None:
            raise
        queries.record_problem(
            url,
            stage="score",
            subject=uri,
            reason=str(exc),
            catalog_id=catalog_id,
            video_id=video_id,
            flow_run_id=flow_link,
        )
        return ScoreOutcome(video_id, 0, None, None, str(exc))
    queries.record_scores(url, video_id, cut_model_version(settings), cuts, emotion)
    overall = emotion["overall"]
    return ScoreOutcome(video_id, len(cuts), float(overall["valence"]), float(overall["arousal"]), None)


@task(name="enqueue-missing-soundtracks", **RETRY)
def enqueue_missing_soundtracks(url: str, catalog_id: int, job: JobIdentity) -> dict[str, int]:
    return work.enqueue_missing(url, catalog_id, job.model_versions, job.params)


@task(name="reap-expired-claims", **RETRY)
def reap_expired_claims(url: str, catalog_id: int | None) -> int:
    return work.reap(url, catalog_id)


@dataclass(frozen=True)
class SoundtrackOutcome:
    run_id: int
    video_id: int
    status: str  # succeeded | failed
    artifacts: dict[str, str]
    valence: float | None
    arousal: float | None
    error: str | None


def process_claim(
    settings: Settings, claim: work.Claim, job: JobIdentity, catalog_id: int | None, flow_link: int | None
) -> SoundtrackOutcome:
    """The soundtrack job for one claimed run, under a renewed lease: its input built once from the claim
    and handed down; its row written once, by the store stage. Bad input marks the run failed, here:
    this task owns the run (an infrastructure failure propagates, for the retries and then the flow)."""
    from flows.job import ClaimedRun, job_from_claim
    from flows.soundtrack import SoundtrackOptions, run_soundtrack

    url = settings.store.resolved_database_url
    run = ClaimedRun(claim.run_key, catalog_id, flow_link, job.model_versions, job.params)
    with work.held_lease(url, claim.run_id, claim.owner, settings.batch.lease_s):
        try:
            result = run_soundtrack(job_from_claim(settings, claim, run), None, settings, SoundtrackOptions())
        except Exception as caught:
            exc = as_input_error(caught, claim.source_uri)
            if exc is None:
                raise
            with_db_retry(
                settings.batch.db_retry_window_s,
                record_failure,
                settings,
                source_uri=claim.source_uri,
                content_hash=claim.content_hash,
                params=job.params,
                model_versions=job.model_versions,
                error=str(exc),
                kind="input",
                run_key=claim.run_key,
                catalog_id=catalog_id,
                flow_run_id=flow_link,
            )
            return SoundtrackOutcome(claim.run_id, claim.video_id, "failed", {}, None, None, str(exc))
    report = result.report
    overall = report["emotion"]["overall"]
    return SoundtrackOutcome(
        claim.run_id,
        claim.video_id,
        "succeeded",
        dict(report["artifacts"]),
        float(overall["valence"]),
        float(overall["arousal"]),
        None,
    )


@task(name="soundtrack-claimed-video", **RETRY)
def soundtrack_claimed_video(
    claim: work.Claim, job: JobIdentity, catalog_id: int | None, flow_link: int | None, music_model: str | None = None
) -> SoundtrackOutcome:
    """`music_model`: the catalog's pinned model (None: the configured one, as for a single video)."""
    settings = get_settings()
    if music_model is not None:
        settings = pinning.with_music_model(settings, music_model)
    return process_claim(settings, claim, job, catalog_id, flow_link)
