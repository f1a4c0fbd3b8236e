"""Catalog-scale flows: score a catalog, soundtrack one registered video, backfill a catalog.

Each flow reads as the list of steps it runs. The steps live beside it: the job's identity
(`identity`), the flow's own row and lease (`runlink`), the bounded fan-outs (`ingest`, `scoring`,
`backfilling`, on `submission`), the tasks (`tasks`) and what a run reports (`reports`). Exactly-once
lives in the database (`flows.catalog.work`), not in Prefect's cache.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from emsync_models.errors import InputError
from flows.catalog import pinning, queries, sound, work
from flows.catalog.backfilling import backfill_counts, backfill_failures, soundtrack_pending
from flows.catalog.identity import current_job, current_scoring
from flows.catalog.ingest import ingest_manifest
from flows.catalog.reports import run_result, summary_artifacts
from flows.catalog.runlink import ON_END, begin, require_models, tag_flow_run
from flows.catalog.scoring import score_counts, score_failures, score_videos
from flows.catalog.tasks import enqueue_missing_soundtracks, reap_expired_claims, soundtrack_claimed_video
from flows.settings import get_settings
from flows.storage.persist import make_run_key


@flow(name="ingest-catalog", **ON_END)
def ingest_catalog(manifest: str, catalog: str | None = None) -> dict[str, Any] | State:
    """Register a manifest's videos in a catalog (no scoring)."""
    url = get_settings().store.resolved_database_url
    run = begin("ingest-catalog", url, None, {"manifest": manifest, "catalog": catalog})
    catalog_id, name, ingested = ingest_manifest(url, manifest, catalog, run.id)
    tag_flow_run(name)
    counts, failures = ingested["counts"], ingested["failures"]
    summary = {"catalog": name, **counts}
    run.set_catalog(catalog_id)
    run.finish("failed" if counts["rejected rows"] > 0 else "completed", {**summary, "failures": failures[:100]})
    summary_artifacts("ingest", name, counts, failures, did_work=counts["manifest rows"] > 0)
    return run_result("ingest", name, {**summary, "failures": failures}, counts["rejected rows"],
                      counts["manifest rows"], "rows")


@flow(name="score-catalog", **ON_END)
def score_catalog(manifest: str | None = None, catalog: str | None = None) -> dict[str, Any] | State:
    """Ingest a manifest (when given), then cut and score every member video not yet scored by the
    current emotion model and cut detector."""
    logger = get_run_logger()
    settings = get_settings()
    url = settings.store.resolved_database_url
    if manifest is None and catalog is None:
        raise InputError("score-catalog", "give a manifest, a catalog name, or both")
    run = begin("score-catalog", url, None, {"manifest": manifest, "catalog": catalog})
    require_models(settings, run)
    failures: list[dict[str, Any]] = []
    counts: dict[str, Any] = {}
    if manifest is not None:
        catalog_id, name, ingested = ingest_manifest(url, manifest, catalog, run.id)
        failures += ingested["failures"]
        counts.update(ingested["counts"])
    else:
        assert catalog is not None
        name, catalog_id = catalog, _existing_catalog(url, catalog)
    run.set_catalog(catalog_id)
    tag_flow_run(name)

    model_name, model_version, detector = current_scoring(settings)
    versions = {"emotion": f"{model_name} {model_version}", "cuts": detector}
    todo = queries.videos_to_score(url, catalog_id, model_name, model_version, detector)
    logger.info("catalog %s: %d videos to score with %s %s", name, len(todo), model_name, model_version)
    scored = score_videos(settings, catalog_id, name, todo, versions, run.id)
    failures += score_failures(url, catalog_id, scored)
    counts.update(score_counts(todo, scored))

    summary = {"catalog": name, "emotion_model": f"{model_name} {model_version}", **counts}
    run.finish("failed" if failures else "completed", {**summary, "failures": failures[:100]})
    did_work = bool(todo) or bool(failures)  # re-reading an unchanged manifest is no work
    summary_artifacts("score", name, {k: v for k, v in counts.items() if v is not None}, failures, did_work, versions)
    logger.info("catalog %s scored: %s", name, counts)
    total = len(todo) + int(counts.get("manifest rows", 0))
    return run_result("score", name, {**summary, "failures": failures}, len(failures), total, "videos and rows")


@flow(name="soundtrack-video", **ON_END)
def soundtrack_video(video: str, force: bool = False) -> dict[str, Any]:
    """The whole soundtrack job for one registered video (id, content hash or source uri).

    Already done for the current models and parameters -> returns the stored result unless `force`.
    """
    settings = get_settings()
    url = settings.store.resolved_database_url
    video_id = queries.find_video(url, video)
    content_hash, uri = queries.video_source(url, video_id)
    run = begin("soundtrack-video", url, None, {"video": video, "force": force})
    require_models(settings, run)
    job = current_job(settings)
    run_key = make_run_key(content_hash, job.model_versions, job.params)
    reap_expired_claims(url, None)
    claim = work.claim_run(url, run_key=run_key, video_id=video_id, source_uri=uri, job_params=job.params,
                           model_versions=job.model_versions, owner=work.new_owner(),
                           lease_s=settings.batch.lease_s, force=force)
    if claim is None:
        state = work.run_state(url, run_key)
        run.finish("completed", {"video_id": video_id, "skipped": state})
        return {"video_id": video_id, "status": state["status"], "artifacts": state["artifacts"], "skipped": True}
    outcome = soundtrack_claimed_video(claim, job, None, run.id)
    run.finish("completed", asdict(outcome))
    return asdict(outcome)


@flow(name="backfill", **ON_END)
def backfill(catalog: str, limit: int | None = None, music_model: str | None = None, style: str | None = None,
             instruments: str | None = None) -> dict[str, Any] | State:
    """Soundtrack every member of `catalog` lacking one for the current model versions and parameters.

    Resumable: work is claimed one video at a time from the database under a lease, so a re-run after
    a crash or kill (of this flow or of a worker) does each remaining video exactly once.

    The music model is the catalog's own (`flows.catalog.pinning`): the one it was first backfilled
    with, whatever the default is now; `music_model` is the operator's explicit move to another, after
    which each video is soundtracked once more by it (the old soundtracks stay stored). `style` and
    `instruments` fix the catalog's sound the same way (`flows.catalog.sound`; "auto" clears either).
    """
    logger = get_run_logger()
    settings = get_settings()
    url = settings.store.resolved_database_url
    if limit is not None and limit < 0:
        raise InputError(f"limit={limit}", "must be zero or more")
    catalog_id = _existing_catalog(url, catalog)
    if music_model is not None:
        pinning.check_music_model(music_model)
    sound.check_sound(style, instruments)
    run = begin("backfill", url, catalog_id, {"catalog": catalog, "limit": limit, "music_model": music_model,
                                              "style": style, "instruments": instruments})
    tag_flow_run(catalog)
    music = pinning.resolve(url, catalog_id, music_model, settings.models.music_model)
    if music.model != settings.models.music_model and music_model is None:
        logger.info("catalog %s keeps music model %s (%s), not the configured %s; move it with "
                    "`emsync catalog backfill %s --music-model %s`", catalog, music.model, music.why,
                    settings.models.music_model, catalog, settings.models.music_model)
    settings = pinning.with_music_model(settings, music.model)
    settings = sound.with_sound(settings, sound.set_catalog_sound(url, catalog_id, style, instruments))
    require_models(settings, run)
    job = current_job(settings)
    reaped = reap_expired_claims(url, catalog_id)
    before = enqueue_missing_soundtracks(url, catalog_id, job)
    logger.info("catalog %s, music %s (%s), job %s: %s (reclaimed %d)", catalog, music.model, music.why,
                job.fingerprint, before, reaped)

    todo = before["pending"] if limit is None else min(limit, before["pending"])
    outcomes = soundtrack_pending(settings, catalog_id, catalog, job, todo, limit, run.id)
    counts = backfill_counts(settings, catalog_id, job, outcomes, reaped)
    failures = backfill_failures(url, catalog_id, outcomes)

    summary = {"catalog": catalog, "music model": music.model, "style": settings.music.style or "auto",
               "instruments": settings.music.instruments or "auto", "job": job.fingerprint,
               "models": job.model_versions, **counts}
    run.finish("failed" if failures else "completed", {**summary, "failures": failures[:100]})
    shown = {k: v for k, v in counts.items() if v is not None}
    summary_artifacts("backfill", catalog, shown, failures, bool(outcomes), pinning.labeled(job.model_versions))
    logger.info("backfill %s: %s", catalog, counts)
    result = {**summary, "failures": failures, "flow_link": run.id}
    return run_result("backfill", catalog, result, len(failures), len(outcomes), "videos")


def _existing_catalog(url: str, catalog: str) -> int:
    found = queries.find_catalog(url, catalog)
    if found is None:
        raise InputError(catalog, "no such catalog (ingest a manifest first)")
    return found
