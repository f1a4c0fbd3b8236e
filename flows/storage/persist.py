"""Writing what a job produced: objects first, then every row in one transaction.

Re-running is always safe: videos are keyed by content hash, runs by `run_key` (content hash + model
versions + parameters), boundaries/emotions/artifacts by their natural keys, and objects by
deterministic keys. A crash between the uploads and the commit leaves objects that the re-run
overwrites under the same keys and then references, so nothing stays orphaned once the work is done.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    Artifact,
    EmotionPrediction,
    Failure,
    GenerationRun,
    SceneBoundary,
    Video,
    utcnow,
)
from db.session import session_scope, with_db_retry
from flows.settings import CutSettings
from flows.storage.store import (
    ObjectStore,
    StoredObject,
    artifact_key,
    canonical_json,
    fingerprint,
    make_store,
    sha256_file,
)

if TYPE_CHECKING:
    from flows.settings import Settings

log = logging.getLogger(__name__)

ARTIFACT_KINDS = ("midi", "audio", "video", "report", "plot")
# Settings that change where cuts fall (the cuts group); boundaries are stored per combination of them.
CUT_KEYS = tuple(CutSettings.model_fields)
_CONTENT_TYPES = {
    ".mid": "audio/midi",
    ".midi": "audio/midi",
    ".json": "application/json",
    ".md": "text/markdown",
}


def cut_params(settings: Settings) -> dict[str, Any]:
    return settings.cuts.model_dump()


def detector_label(params: Mapping[str, Any]) -> str:
    """A short stable name for the cut settings inside `params` (only the keys that move cuts)."""
    subset = {k: params[k] for k in CUT_KEYS if k in params}
    return f"{subset.get('cut_detector', 'default')}-{fingerprint(subset, 8)}"


def job_fingerprint(model_versions: Mapping[str, str], params: Mapping[str, Any]) -> str:
    return fingerprint({"models": dict(model_versions), "params": dict(params)}, 32)


def make_run_key(subject: str, model_versions: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """`subject` is the content hash (or `uri:<source>` when the content was never read)."""
    return hashlib.sha256(
        canonical_json({"subject": subject, "models": dict(model_versions), "params": dict(params)}).encode()
    ).hexdigest()


def content_type_for(path: Path) -> str:
    suffix = path.suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def insert_ignore(session: Session, table: Table, rows: list[dict[str, Any]], keys: Iterable[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING on both dialects."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=list(keys))
    if len({frozenset(row) for row in rows}) == 1:
        # Parameters given apart from the statement: compiled once and cached, then sent in as few
        # round trips as the driver allows. Rows inlined as VALUES were compiled afresh per batch, which
        # cost more than the inserts themselves at catalog scale.
        session.execute(statement, rows)
    else:
        session.execute(statement.values(rows))


# -- videos, boundaries, emotions ----------------------------------------------------------------------


def _probe_fields(probe: Mapping[str, Any]) -> dict[str, Any]:
    def pick(*names: str) -> Any:
        return next((probe[n] for n in names if probe.get(n) is not None), None)

    def num(value: Any, kind: type) -> Any:
        try:
            return None if value is None else kind(value)
        except (TypeError, ValueError):
            return None

    return {
        "duration_s": num(pick("duration_s", "duration"), float),
        "fps": num(pick("fps", "frame_rate"), float),
        "width": num(pick("width"), int),
        "height": num(pick("height"), int),
        "size_bytes": num(pick("size_bytes", "bytes", "size"), int),
    }


def _jsonable(value: Any) -> Any:
    """Probe dicts may hold Paths, numpy scalars or tuples; store their JSON spelling."""
    import json

    return json.loads(canonical_json(value))


def video_row(content_hash: str, source_uri: str, probe: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `videos` row for this content, as `ensure_video` inserts it."""
    return {"content_hash": content_hash, "source_uri": source_uri, "probe": _jsonable(dict(probe or {})) or None,
            **_probe_fields(probe or {}), "created_at": utcnow()}


def ensure_video(session: Session, *, content_hash: str, source_uri: str, probe: Mapping[str, Any] | None) -> int:
    """The id of the video with this content, creating it (or filling a missing probe) as needed."""
    fields = _probe_fields(probe or {})
    row = video_row(content_hash, source_uri, probe)
    insert_ignore(session, Video.__table__, [row], ["content_hash"])  # type: ignore[arg-type]
    video = session.execute(select(Video).where(Video.content_hash == content_hash)).scalar_one()
    if probe and video.probe is None:
        # A first sighting that failed before probing left nulls: fill them, never overwrite data.
        video.probe = row["probe"]
        for key, value in fields.items():
            if getattr(video, key) is None:
                setattr(video, key, value)
    return video.id


def save_boundaries(session: Session, video_id: int, detector: str, cuts_s: list[float]) -> None:
    existing = session.execute(
        select(SceneBoundary.time_s)
        .where(SceneBoundary.video_id == video_id, SceneBoundary.detector == detector)
        .order_by(SceneBoundary.position)
    ).scalars()
    cuts = [float(c) for c in cuts_s]
    if list(existing) == cuts:
        return
    session.execute(delete(SceneBoundary).where(SceneBoundary.video_id == video_id, SceneBoundary.detector == detector))
    session.add_all(
        SceneBoundary(video_id=video_id, detector=detector, position=i, time_s=t) for i, t in enumerate(cuts)
    )


def save_emotion(session: Session, video_id: int, detector: str, emotion: Mapping[str, Any]) -> None:
    """Overall (scene_index -1) and per-scene predictions for one model version, replacing earlier ones."""
    name, version = str(emotion["model_name"]), str(emotion["model_version"])
    session.execute(
        delete(EmotionPrediction).where(
            EmotionPrediction.video_id == video_id,
            EmotionPrediction.model_name == name,
            EmotionPrediction.model_version == version,
            EmotionPrediction.detector == detector,
        )
    )
    session.flush()

    def row(index: int, pred: Mapping[str, Any]) -> EmotionPrediction:
        return EmotionPrediction(
            video_id=video_id,
            model_name=name,
            model_version=version,
            detector=detector,
            scene_index=index,
            start_s=None if pred.get("start_s") is None else float(pred["start_s"]),
            end_s=None if pred.get("end_s") is None else float(pred["end_s"]),
            # User-fixed emotions have no class probabilities.
            probs={str(k): float(v) for k, v in dict(pred.get("probs") or {}).items()},
            valence=float(pred["valence"]),
            arousal=float(pred["arousal"]),
            confidence=None if pred.get("confidence") is None else float(pred["confidence"]),
        )

    session.add(row(-1, emotion["overall"]))
    session.add_all(row(i, scene) for i, scene in enumerate(emotion.get("scenes") or []))


# -- runs ------------------------------------------------------------------------------------------------


def ensure_run(
    session: Session,
    *,
    run_key: str,
    video_id: int | None,
    source_uri: str,
    params: Mapping[str, Any],
    model_versions: Mapping[str, str],
    catalog_id: int | None = None,
) -> GenerationRun:
    seed = params.get("seed")
    insert_ignore(
        session,
        GenerationRun.__table__,  # type: ignore[arg-type]
        [
            {
                "run_key": run_key,
                "job_fp": job_fingerprint(model_versions, params),
                "video_id": video_id,
                "catalog_id": catalog_id,
                "source_uri": source_uri,
                "params": _jsonable(dict(params)),
                "seed": int(seed) if isinstance(seed, int | float) else None,
                "model_versions": _jsonable(dict(model_versions)),
                "status": PENDING,
                "attempts": 0,
                "created_at": utcnow(),
            }
        ],
        ["run_key"],
    )
    return session.execute(select(GenerationRun).where(GenerationRun.run_key == run_key)).scalar_one()


def _upload(store: ObjectStore, key: str, path: Path) -> tuple[StoredObject, bool]:
    """Upload unless the same bytes are already there; returns (object, whether this call created it)."""
    sha, size = sha256_file(path)
    current = store.stat(key)
    if current is not None and current.sha256 == sha:
        return StoredObject(key=key, sha256=sha, size=size), False
    stored = store.put_file(key, path, content_type=content_type_for(path))
    return stored, current is None


def record_soundtrack(
    settings: Settings,
    *,
    source_uri: str,
    content_hash: str,
    probe: dict[str, Any],
    cuts_s: list[float],
    emotion: dict[str, Any],
    params: dict[str, Any],
    model_versions: dict[str, str],
    timings: dict[str, float],
    artifacts: dict[str, Path],
    run_key: str | None = None,
    catalog_id: int | None = None,
    flow_run_id: int | None = None,
    started_at: datetime | None = None,
) -> dict[str, str]:
    """Upload the artifacts under deterministic keys and record the finished run; returns kind -> key.

    `run_key` defaults to the key made from (content hash, model versions, params); the backfill passes
    the key of the run it claimed.
    """
    for kind, path in artifacts.items():
        if not Path(path).is_file():
            raise FileNotFoundError(f"artifact {kind!r}: {path} is not a file")
    store = make_store(settings)
    url = settings.store.resolved_database_url
    key_of_run = run_key or make_run_key(content_hash, model_versions, params)
    # The row is written inside the caller's "store" stage, before it ends: record the uploads' own time
    # as that stage, or object-store latency would never reach the run's timings (nor the metrics).
    store_started = time.perf_counter()

    stored: dict[str, StoredObject] = {}
    created: list[str] = []
    try:
        for kind, path in sorted(artifacts.items()):
            key = artifact_key(content_hash, model_versions, params, kind, Path(path).suffix or ".bin")
            obj, is_new = _upload(store, key, Path(path))
            stored[kind] = obj
            if is_new:
                created.append(key)

        def write_rows() -> None:
            # One transaction; a connection lost midway rolls it back, and the retry writes it whole.
            with session_scope(url) as session:
                video_id = ensure_video(session, content_hash=content_hash, source_uri=source_uri, probe=probe)
                detector = model_versions.get("cuts") or detector_label(params)
                save_boundaries(session, video_id, detector, cuts_s)
                save_emotion(session, video_id, detector, emotion)
                run = ensure_run(
                    session,
                    run_key=key_of_run,
                    video_id=video_id,
                    source_uri=source_uri,
                    params=params,
                    model_versions=model_versions,
                    catalog_id=catalog_id,
                )
                run.video_id = video_id
                run.status = SUCCEEDED
                run.error = run.error_kind = None
                stored_s = round(time.perf_counter() - store_started, 3)
                run.timings = {**{k: float(v) for k, v in timings.items()}, "store": stored_s}
                run.model_versions = _jsonable(dict(model_versions))
                run.lease_owner = run.lease_expires_at = None
                run.started_at = run.started_at or started_at
                run.finished_at = utcnow()
                if run.attempts == 0:
                    run.attempts = 1
                if flow_run_id is not None:
                    run.flow_run_id = flow_run_id
                if catalog_id is not None and run.catalog_id is None:
                    run.catalog_id = catalog_id
                from flows.storage.streaks import note_success

                note_success(session, video_id)
                session.flush()
                existing = session.execute(select(Artifact).where(Artifact.run_id == run.id)).scalars()
                current = {a.kind: a for a in existing}
                for kind, obj in stored.items():
                    art = current.get(kind)
                    if art is None:
                        session.add(
                            Artifact(
                                run_id=run.id,
                                video_id=video_id,
                                kind=kind,
                                object_key=obj.key,
                                sha256=obj.sha256,
                                size_bytes=obj.size,
                                content_type=content_type_for(Path(artifacts[kind])),
                            )
                        )
                    else:
                        art.object_key, art.sha256, art.size_bytes = obj.key, obj.sha256, obj.size

        with_db_retry(settings.batch.db_retry_window_s, write_rows)
    except BaseException:
        _delete_unreferenced(settings, store, created)
        raise
    return {kind: obj.key for kind, obj in stored.items()}


def _delete_unreferenced(settings: Settings, store: ObjectStore, keys: list[str]) -> None:
    """Best effort: objects this call created that no row points at must not outlive the failure."""
    if not keys:
        return
    try:
        with session_scope(settings.store.resolved_database_url) as session:
            referenced = set(
                session.execute(select(Artifact.object_key).where(Artifact.object_key.in_(keys))).scalars()
            )
        for key in keys:
            if key not in referenced:
                store.delete(key)
    except Exception:  # noqa: BLE001 - the original error matters more; a re-run overwrites these keys
        log.warning("could not clean up %d uploaded objects after a failure", len(keys), exc_info=True)


def record_failure(
    settings: Settings,
    *,
    source_uri: str,
    content_hash: str | None,
    params: dict[str, Any],
    error: str,
    model_versions: dict[str, str] | None = None,
    kind: str = "input",
    stage: str = "soundtrack",
    run_key: str | None = None,
    catalog_id: int | None = None,
    flow_run_id: int | None = None,
) -> int:
    """Record a failed run (and a failure log line); returns the run id.

    Never touches existing results: a run that already succeeded keeps its status and rows; only the
    failure log grows. `kind` is "input" for bad input (never retried) or "infra".
    """
    versions = model_versions or {}
    subject = content_hash or f"uri:{source_uri}"
    key = run_key or make_run_key(subject, versions, params)
    with session_scope(settings.store.resolved_database_url) as session:
        video_id = None
        if content_hash is not None:
            video_id = session.execute(select(Video.id).where(Video.content_hash == content_hash)).scalar()
        run = ensure_run(
            session,
            run_key=key,
            video_id=video_id,
            source_uri=source_uri,
            params=params,
            model_versions=versions,
            catalog_id=catalog_id,
        )
        if run.status != SUCCEEDED:
            # A claimed (running) run counted its attempt when it was claimed.
            run.attempts = max(run.attempts, 1) if run.status == RUNNING else run.attempts + 1
            run.status = FAILED
            run.error = error.replace("\x00", "\\x00")
            run.error_kind = kind
            run.lease_owner = run.lease_expires_at = None
            run.finished_at = utcnow()
            if flow_run_id is not None:
                run.flow_run_id = flow_run_id
        if kind == "input" and stage == "soundtrack":
            from flows.storage.streaks import note_failure

            note_failure(session, catalog_id, video_id, error, settings.batch.quarantine_after)
        session.add(
            Failure(
                stage=stage,
                subject=source_uri.replace("\x00", "\\x00"),
                reason=error.replace("\x00", "\\x00"),
                kind=kind,
                catalog_id=catalog_id,
                video_id=video_id,
                run_id=run.id,
                flow_run_id=flow_run_id,
            )
        )
        session.flush()
        return run.id


def count_rows(settings: Settings, model: type) -> int:
    with session_scope(settings.store.resolved_database_url) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())
