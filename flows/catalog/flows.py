"""Catalog-scale flows: score a catalog, soundtrack one registered video, backfill a catalog.

Each flow reads as the list of steps it runs; each task is one idempotent step that takes ids and paths
(never sessions or clients), retries with exponential backoff on infrastructure errors, and never
retries bad input (`InputError`), which is recorded in the database and reported per row instead.
Exactly-once lives in the database (`flows.catalog.work`), not in Prefect's cache.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Failed, State
from prefect.tasks import exponential_backoff
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from db.session import with_db_retry
from emsync_models.errors import InputError, as_input_error, is_input_problem
from flows.catalog import pinning, queries, recovery, work
from flows.catalog.manifest import Manifest, ManifestRow, read_manifest, rebase_on_bucket, resolve_source
from flows.ops.outcome import CatalogRunFailed, exceeds_threshold, failure_message
from flows.ops.progress import RunProgress
from flows.settings import Settings, get_settings
from flows.storage.persist import job_fingerprint, make_run_key, record_failure
from flows.storage.scratch import scratch_dir
from flows.storage.sources import materialize

INFRA_RETRIES = 3
log = logging.getLogger(__name__)


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


# -- the job's identity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobIdentity:
    """What makes two soundtrack jobs the same job: the model versions and the parameters."""

    model_versions: dict[str, str]
    params: dict[str, Any]
    emotion_model: tuple[str, str]
    cuts_version: str

    @property
    def fingerprint(self) -> str:
        return job_fingerprint(self.model_versions, self.params)


def current_job(settings: Settings) -> JobIdentity:
    """The identity `run_soundtrack` gives a job with default options under these settings.

    It must match `flows.soundtrack.run_soundtrack` key for key; `process_claim` checks that it did.
    """
    from flows.inference import emotion_analyzer, music_generator
    from flows.soundtrack import cut_model_version, job_params

    analyzer = emotion_analyzer(settings)
    generator = music_generator(settings)
    cuts = cut_model_version(settings)
    versions = {"cuts": cuts, "emotion": str(analyzer.model_version), "music": str(generator.version)}
    params = job_params(settings)
    return JobIdentity(versions, params, (str(analyzer.model_name), str(analyzer.model_version)), cuts)


def current_scoring(settings: Settings) -> tuple[str, str, str]:
    """(emotion model name, version, cut detector version): what "scored" means right now."""
    from flows.inference import emotion_analyzer
    from flows.soundtrack import cut_model_version

    analyzer = emotion_analyzer(settings)
    return str(analyzer.model_name), str(analyzer.model_version), cut_model_version(settings)


# -- helpers ---------------------------------------------------------------------------------------------


def _flow_run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id or f"local-{time.time_ns()}")


def _artifact_key(prefix: str, name: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return f"{prefix}-{slug}"[:100] or prefix


def catalog_tag(name: str) -> str:
    """The Prefect tag that names a catalog on its runs and deployments."""
    return f"catalog:{name}"


def _tag_flow_run(catalog: str) -> None:
    """Add the catalog's tag to the running flow run, so the Prefect UI can filter runs by catalog."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    tags = sorted({*context.flow_run.tags, "emsync", catalog_tag(catalog)})
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=tags)


def _run_result(
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


def _wait_any(futures: list[Any]) -> None:
    """Block until at least one Prefect future is done (without polling the API)."""
    wrapped = [getattr(f, "wrapped_future", None) for f in futures]
    if all(isinstance(w, concurrent.futures.Future) for w in wrapped):
        concurrent.futures.wait(wrapped, return_when=concurrent.futures.FIRST_COMPLETED)  # type: ignore[arg-type]
    else:
        futures[0].wait()


def _done(future: Any) -> bool:  # noqa: ANN401
    wrapped = getattr(future, "wrapped_future", None)
    return wrapped.done() if isinstance(wrapped, concurrent.futures.Future) else future.state.is_final()


_END = object()


def bounded_submit(
    submit: Callable[[Any], Any], items: Iterable[Any], limit: int, on_done: Callable[[Any, Any], None]
) -> None:
    """Run `submit(item)` for each item with at most `limit` in flight; `on_done(item, future)` after each.

    The next item is taken from `items` only once a slot is free: items that are claims (leases on
    work) are then never held while they wait, and a claim's start time is the job's start time.
    """
    if limit < 1:  # nothing could ever be in flight: the loop below would spin without end
        raise ValueError(f"bounded_submit needs a limit of at least 1, got {limit}")
    inflight: list[tuple[Any, Any]] = []

    def drain(keep: int) -> None:
        while len(inflight) > keep:
            _wait_any([f for _, f in inflight])
            for pair in [p for p in inflight if _done(p[1])]:
                inflight.remove(pair)
                on_done(*pair)

    # Make room before pulling the next item: pulling can be what claims a lease, so at most `limit`
    # items are ever taken and unfinished at once.
    iterator = iter(items)
    while True:
        drain(limit - 1)
        item = next(iterator, _END)
        if item is _END:
            break
        inflight.append((item, submit(item)))
    drain(0)


def _batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _result_or_error(future: Any) -> tuple[Any, BaseException | None]:  # noqa: ANN401
    try:
        return future.result(), None
    except Exception as exc:  # noqa: BLE001 - reported per item, the run goes on
        return None, exc


# -- tasks -----------------------------------------------------------------------------------------------


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
    from flows.soundtrack import probe_input

    settings = get_settings()
    # Check, hash and probe every row first; then register the good ones in one transaction.
    checked: list[tuple[ManifestRow, queries.Member]] = []
    problems: dict[int, str] = {}
    for row in rows:
        try:
            source = resolve_source(
                row.uri, Path(base_dir), settings.store.allowed_roots, settings.store.resolved_allowed_s3_sources
            )
            local, digest = materialize(settings, source.uri, refresh=True)
            probe = probe_input(local, settings).to_dict()
        except Exception as exc:
            # An unreadable file, a symlink loop: this row's problem; anything else may be an outage (retried).
            converted = as_input_error(exc, row.uri)
            if converted is None:
                raise
            problems[row.row] = converted.problem
            continue
        checked.append((row, queries.Member(digest, source.uri, probe, row.external_id, row.metadata)))
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
        local, _ = materialize(settings, uri, expected_sha256=content_hash)
        probe, cuts, tracks = decode_once(local, probe_input(local, settings), settings, emotion_analyzer(settings))
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
    """The soundtrack job for one claimed run, under a renewed lease. Bad input marks the run failed."""
    from flows.soundtrack import SoundtrackOptions, run_soundtrack

    url = settings.store.resolved_database_url
    with work.held_lease(url, claim.run_id, claim.owner, settings.batch.lease_s):
        try:
            local, _ = materialize(settings, claim.source_uri, expected_sha256=claim.content_hash)
            with scratch_dir(settings, "backfill") as tmp:
                result = run_soundtrack(
                    local, Path(tmp) / "out.mp4", settings, SoundtrackOptions(), source_uri=claim.source_uri,
                    record_failures=False,
                )
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
    actual = make_run_key(claim.content_hash, report["models"], report["params"])
    if actual != claim.run_key:
        # The job ran under another identity than the one claimed (settings changed mid-run, or the
        # identity here drifted from run_soundtrack's): surface it, never count it as done.
        raise RuntimeError(
            f"run {claim.run_id}: job identity drifted (claimed models {job.model_versions}, params {job.params}; "
            f"ran models {report['models']}, params {report['params']})"
        )
    with_db_retry(settings.batch.db_retry_window_s, work.link_run, url, claim.run_id, catalog_id, flow_link)
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


# -- flows -----------------------------------------------------------------------------------------------


def _summary_artifacts(
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
        key=_artifact_key(kind, catalog) if did_work else None,
        description=f"{kind} summary for {catalog}",
    )
    if failures and did_work:
        create_table_artifact(
            table=[{k: str(v) for k, v in f.items()} for f in failures[:1000]],
            key=_artifact_key(f"{kind}-failures", catalog),
            description=f"{kind} failures for {catalog}",
        )


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
    progress = RunProgress("ingest", name, len(manifest.rows), artifact_key=_artifact_key("ingest-progress", name))

    def submit(batch: list[ManifestRow]) -> Any:  # noqa: ANN401 - a Prefect future
        progress.started(f"rows {batch[0].row}-{batch[-1].row}")
        return register_videos.submit(url, catalog_id, batch, base_dir, flow_link)

    def collect(batch: list[ManifestRow], future: Any) -> None:  # noqa: ANN401
        result, exc = _result_or_error(future)
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
        _batches(rows, settings.batch.batch_size),
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


_heartbeats: dict[str, threading.Event] = {}


def _begin(flow_name: str, url: str, catalog_id: int | None, params: dict[str, Any]) -> int:
    """Record the flow's row under a lease that a heartbeat renews until the flow ends; rows of flows
    killed earlier (lease expired, or owner process gone) are marked abandoned first."""
    settings = get_settings()
    window = settings.batch.db_retry_window_s
    with_db_retry(window, queries.reap_flow_links, url, work.owner_is_dead)
    owner, lease_s, run_id = work.new_owner(), settings.batch.lease_s, _flow_run_id()
    link = with_db_retry(window, queries.start_flow_link, url, run_id, flow_name, catalog_id, params, owner, lease_s)
    stop = threading.Event()
    _heartbeats[run_id] = stop

    def beat() -> None:
        while not stop.wait(lease_s / 3):
            try:
                if not queries.renew_flow_link(url, link, owner, lease_s):
                    return  # finished (or reaped): nothing left to renew
            except Exception:  # noqa: BLE001 - a missed beat is survivable; the next one may work
                log.warning("could not renew the lease of flow run %s", link, exc_info=True)

    threading.Thread(target=beat, name=f"flow-lease-{link}", daemon=True).start()
    return link


def _stop_heartbeat(run_id: str) -> None:
    stop = _heartbeats.pop(run_id, None)
    if stop is not None:
        stop.set()


def _finish_link(url: str, link: int, state: str, summary: dict[str, Any]) -> None:
    with_db_retry(get_settings().batch.db_retry_window_s, queries.finish_flow_link, url, link, state, summary)
    _stop_heartbeat(_flow_run_id())


def _mark_flow_failed(_flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ANN401 - Prefect's hook types
    """A flow that raised, crashed or was cancelled leaves its row `failed`, not `running`."""
    run_id = str(flow_run.id)
    _stop_heartbeat(run_id)
    url = get_settings().store.resolved_database_url
    try:
        from db.models import FlowRunLink
        from db.session import session_scope

        with session_scope(url) as session:
            link = session.execute(
                select(FlowRunLink.id).where(FlowRunLink.prefect_flow_run_id == run_id)
            ).scalar()
        if link is not None:
            error = getattr(state, "message", None) or state.name
            queries.finish_flow_link(url, link, "failed", {"error": str(error)[:2000]}, only_running=True)
    except Exception:  # noqa: BLE001 - the flow's own failure is what the user must see
        log.warning("could not mark flow run %s failed", run_id, exc_info=True)


ON_END = {"on_failure": [_mark_flow_failed], "on_crashed": [_mark_flow_failed], "on_cancellation": [_mark_flow_failed]}


def _require_models(settings: Settings, url: str, link: int) -> None:
    """Fail the flow before any work when the model server is down, and record why on its run link.

    Every flow that runs models calls this first: it is also where the process's thread budget is
    applied, shared among the `concurrency` jobs this flow runs at once.
    """
    from flows.inference import check_models_ready
    from flows.runtime import apply_thread_budget
    from serving.errors import ServingUnavailable

    apply_thread_budget(settings, jobs_in_process=settings.batch.concurrency)

    try:
        check_models_ready(settings)
    except ServingUnavailable as exc:
        queries.finish_flow_link(url, link, "failed", {"error": f"model server unavailable: {exc}"})
        raise


@flow(name="ingest-catalog", **ON_END)
def ingest_catalog(manifest: str, catalog: str | None = None) -> dict[str, Any] | State:
    """Register a manifest's videos in a catalog (no scoring)."""
    url = get_settings().store.resolved_database_url
    link = _begin("ingest-catalog", url, None, {"manifest": manifest, "catalog": catalog})
    catalog_id, name, ingested = ingest_manifest(url, manifest, catalog, link)
    _tag_flow_run(name)
    counts = ingested["counts"]
    summary = {"catalog": name, **counts}
    _catalog_link(url, link, catalog_id)
    failed = counts["rejected rows"] > 0
    _finish_link(
        url, link, "failed" if failed else "completed", {**summary, "failures": ingested["failures"][:100]}
    )
    _summary_artifacts("ingest", name, counts, ingested["failures"], did_work=counts["manifest rows"] > 0)
    return _run_result(
        "ingest", name, {**summary, "failures": ingested["failures"]}, counts["rejected rows"],
        counts["manifest rows"], "rows",
    )


def _catalog_link(url: str, link: int, catalog_id: int) -> None:
    from db.models import FlowRunLink
    from db.session import session_scope

    with session_scope(url) as session:
        row = session.get(FlowRunLink, link)
        if row is not None:
            row.catalog_id = catalog_id


@flow(name="score-catalog", **ON_END)
def score_catalog(manifest: str | None = None, catalog: str | None = None) -> dict[str, Any] | State:
    """Ingest a manifest (when given), then cut and score every member video not yet scored by the
    current emotion model and cut detector."""
    logger = get_run_logger()
    settings = get_settings()
    url = settings.store.resolved_database_url
    if manifest is None and catalog is None:
        raise InputError("score-catalog", "give a manifest, a catalog name, or both")
    link = _begin("score-catalog", url, None, {"manifest": manifest, "catalog": catalog})
    _require_models(settings, url, link)
    failures: list[dict[str, Any]] = []
    counts: dict[str, Any] = {}
    if manifest is not None:
        catalog_id, name, ingested = ingest_manifest(url, manifest, catalog, link)
        failures += ingested["failures"]
        counts.update(ingested["counts"])
    else:
        assert catalog is not None
        name = catalog
        found = queries.find_catalog(url, catalog)
        if found is None:
            raise InputError(catalog, "no such catalog (ingest a manifest first)")
        catalog_id = found
    _catalog_link(url, link, catalog_id)
    _tag_flow_run(name)

    model_name, model_version, detector = current_scoring(settings)
    versions = {"emotion": f"{model_name} {model_version}", "cuts": detector}
    todo = queries.videos_to_score(url, catalog_id, model_name, model_version, detector)
    logger.info("catalog %s: %d videos to score with %s %s", name, len(todo), model_name, model_version)
    scored: list[ScoreOutcome] = []
    progress = RunProgress("score", name, len(todo), versions, artifact_key=_artifact_key("score-progress", name))

    def submit(video_id: int) -> Any:  # noqa: ANN401 - a Prefect future
        progress.started(recovery.member_name(url, catalog_id, video_id))
        return score_video.submit(url, catalog_id, video_id, link)

    def collect(video_id: int, future: Any) -> None:  # noqa: ANN401
        result, exc = _result_or_error(future)
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
    ok = [s for s in scored if s.error is None]
    # The operator's names for the videos (external id, source), not database ids.
    named = recovery.member_names(url, catalog_id, [s.video_id for s in scored if s.error is not None])
    failures += [
        {"where": named[s.video_id][0], "subject": named[s.video_id][1], "reason": s.error}
        for s in scored
        if s.error is not None
    ]
    counts.update(
        {
            "to score": len(todo),
            "scored": len(ok),
            "score failures": len(scored) - len(ok),
            "mean valence": sum(s.valence for s in ok) / len(ok) if ok else None,  # type: ignore[misc]
            "mean arousal": sum(s.arousal for s in ok) / len(ok) if ok else None,  # type: ignore[misc]
        }
    )
    summary = {"catalog": name, "emotion_model": f"{model_name} {model_version}", **counts}
    _finish_link(
        url, link, "failed" if failures else "completed", {**summary, "failures": failures[:100]}
    )
    did_work = bool(todo) or bool(failures)  # re-reading an unchanged manifest is no work
    shown = {k: v for k, v in counts.items() if v is not None}
    _summary_artifacts("score", name, shown, failures, did_work, versions)
    logger.info("catalog %s scored: %s", name, counts)
    total = len(todo) + int(counts.get("manifest rows", 0))
    return _run_result("score", name, {**summary, "failures": failures}, len(failures), total, "videos and rows")


@flow(name="soundtrack-video", **ON_END)
def soundtrack_video(video: str, force: bool = False) -> dict[str, Any]:
    """The whole soundtrack job for one registered video (id, content hash or source uri).

    Already done for the current models and parameters -> returns the stored result unless `force`.
    """
    settings = get_settings()
    url = settings.store.resolved_database_url
    video_id = queries.find_video(url, video)
    content_hash, uri = queries.video_source(url, video_id)
    link = _begin("soundtrack-video", url, None, {"video": video, "force": force})
    _require_models(settings, url, link)
    job = current_job(settings)
    run_key = make_run_key(content_hash, job.model_versions, job.params)
    reap_expired_claims(url, None)
    owner = work.new_owner()
    claim = work.claim_run(
        url,
        run_key=run_key,
        video_id=video_id,
        source_uri=uri,
        job_params=job.params,
        model_versions=job.model_versions,
        owner=owner,
        lease_s=settings.batch.lease_s,
        force=force,
    )
    if claim is None:
        state = work.run_state(url, run_key)
        _finish_link(url, link, "completed", {"video_id": video_id, "skipped": state})
        return {"video_id": video_id, "status": state["status"], "artifacts": state["artifacts"], "skipped": True}
    outcome = soundtrack_claimed_video(claim, job, None, link)
    _finish_link(url, link, "completed", asdict(outcome))
    return asdict(outcome)


@flow(name="backfill", **ON_END)
def backfill(catalog: str, limit: int | None = None, music_model: str | None = None) -> dict[str, Any] | State:
    """Soundtrack every member of `catalog` lacking one for the current model versions and parameters.

    Resumable: work is claimed one video at a time from the database under a lease, so a re-run after
    a crash or kill (of this flow or of a worker) does each remaining video exactly once.

    The music model is the catalog's own (`flows.catalog.pinning`): the one it was first backfilled
    with, whatever the default is now; `music_model` is the operator's explicit move to another, after
    which each video is soundtracked once more by it (the old soundtracks stay stored).
    """
    logger = get_run_logger()
    settings = get_settings()
    url = settings.store.resolved_database_url
    if limit is not None and limit < 0:
        raise InputError(f"limit={limit}", "must be zero or more")
    catalog_id = queries.find_catalog(url, catalog)
    if catalog_id is None:
        raise InputError(catalog, "no such catalog (ingest a manifest first)")
    if music_model is not None:
        pinning.check_music_model(music_model)
    link = _begin("backfill", url, catalog_id, {"catalog": catalog, "limit": limit, "music_model": music_model})
    _tag_flow_run(catalog)
    music = pinning.resolve(url, catalog_id, music_model, settings.models.music_model)
    if music.model != settings.models.music_model and music_model is None:
        logger.info("catalog %s keeps music model %s (%s), not the configured %s; move it with "
                    "`emsync catalog backfill %s --music-model %s`", catalog, music.model, music.why,
                    settings.models.music_model, catalog, settings.models.music_model)
    settings = pinning.with_music_model(settings, music.model)
    _require_models(settings, url, link)
    job = current_job(settings)
    reaped = reap_expired_claims(url, catalog_id)
    before = enqueue_missing_soundtracks(url, catalog_id, job)
    logger.info("catalog %s, music %s (%s), job %s: %s (reclaimed %d)", catalog, music.model, music.why,
                job.fingerprint, before, reaped)

    owner = work.new_owner()
    outcomes: list[SoundtrackOutcome] = []
    todo = before["pending"] if limit is None else min(limit, before["pending"])
    progress = RunProgress(
        "backfill", catalog, todo, pinning.labeled(job.model_versions),
        artifact_key=_artifact_key("backfill-progress", catalog),
    )

    def submit(claim: work.Claim) -> Any:  # noqa: ANN401 - a Prefect future
        progress.started(recovery.member_name(url, catalog_id, claim.video_id))
        return soundtrack_claimed_video.submit(claim, job, catalog_id, link, music.model)

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
        result, exc = _result_or_error(future)
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
        bounded_submit(
            submit,
            claims(),
            settings.batch.concurrency,
            collect,
        )
    except BaseException:
        # Cancelled or interrupted: hand back what we hold so a re-run need not wait for leases.
        for run_id, holder in work.stale_running(url):
            if holder == owner:
                work.release(url, run_id, owner)
        raise
    ok = [o for o in outcomes if o.status == "succeeded"]
    failed = [o for o in outcomes if o.status != "succeeded"]
    after = with_db_retry(settings.batch.db_retry_window_s, work.job_counts, url, catalog_id, job.fingerprint)
    counts = {
        "processed": len(outcomes),
        "succeeded": len(ok),
        "failed": len(failed),
        "reclaimed": reaped,
        "remaining": after["pending"] + after["running"],
        "total soundtracked": after["succeeded"],
        "mean valence": sum(o.valence for o in ok) / len(ok) if ok else None,  # type: ignore[misc]
        "mean arousal": sum(o.arousal for o in ok) / len(ok) if ok else None,  # type: ignore[misc]
    }
    named = recovery.member_names(url, catalog_id, [o.video_id for o in failed])
    failures = [{"where": named[o.video_id][0], "subject": named[o.video_id][1], "reason": o.error} for o in failed]
    summary = {"catalog": catalog, "music model": music.model, "job": job.fingerprint,
               "models": job.model_versions, **counts}
    _finish_link(url, link, "failed" if failed else "completed", {**summary, "failures": failures[:100]})
    shown = {k: v for k, v in counts.items() if v is not None}
    _summary_artifacts("backfill", catalog, shown, failures, bool(outcomes), pinning.labeled(job.model_versions))
    logger.info("backfill %s: %s", catalog, counts)
    result = {**summary, "failures": failures, "flow_link": link}
    return _run_result("backfill", catalog, result, len(failed), len(outcomes), "videos")
