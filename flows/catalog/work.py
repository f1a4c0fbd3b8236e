"""The backfill's work queue, kept in the database: enqueue, claim under a lease, renew, reap.

Exactly-once comes from here, not from Prefect's cache (whose default key includes the flow-run id):
- one `generation_runs` row per (video, model versions, parameters), inserted with ON CONFLICT DO NOTHING;
- a claim moves one row pending -> running under a lease, with `FOR UPDATE SKIP LOCKED` on PostgreSQL
  (concurrent workers skip each other's rows instead of waiting) and a conditional UPDATE everywhere,
  which SQLite runs atomically under its `BEGIN IMMEDIATE` write lock;
- a worker renews its leases while it works; the reaper returns to `pending` a running row whose lease
  expired, or whose owner process on this host is gone (a SIGKILLed run is reclaimed at once instead
  of after the lease).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from db.models import FAILED, PENDING, RUNNING, SUCCEEDED, CatalogVideo, GenerationRun, Video, utcnow
from db.session import session_scope
from flows.storage.persist import insert_ignore, job_fingerprint, make_run_key

log = logging.getLogger(__name__)
HOST = socket.gethostname()


def new_owner() -> str:
    """A lease owner name: host and pid let the reaper see a dead owner; the token tells runs apart."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False  # another machine's worker: only its lease expiry can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class Claim:
    run_id: int
    run_key: str
    video_id: int
    content_hash: str
    source_uri: str
    owner: str
    attempts: int
    probe: dict[str, Any] | None = None  # the video's probe, registered at ingest


def enqueue_missing(
    url: str,
    catalog_id: int,
    model_versions: Mapping[str, str],
    params: Mapping[str, Any],
    batch: int = 1000,
) -> dict[str, int]:
    """Make sure every member video has a run row for this job; returns counts by state.

    Runs that failed on an infrastructure error go back to pending (the outage may be over); runs that
    failed on bad input stay failed: retrying them cannot help.
    """
    job_fp = job_fingerprint(model_versions, params)
    last_id = 0
    while True:
        with session_scope(url) as session:
            members = session.execute(
                select(Video.id, Video.content_hash, CatalogVideo.source_uri)
                .join(CatalogVideo, CatalogVideo.video_id == Video.id)
                .where(CatalogVideo.catalog_id == catalog_id, Video.id > last_id,
                       CatalogVideo.quarantined_at.is_(None))
                .order_by(Video.id)
                .limit(batch)
            ).all()
            if not members:
                break
            last_id = members[-1][0]
            now = utcnow()
            rows = [
                {
                    "run_key": make_run_key(content_hash, model_versions, params),
                    "job_fp": job_fp,
                    "video_id": video_id,
                    "catalog_id": catalog_id,
                    "source_uri": source_uri,
                    "params": dict(params),
                    "seed": params.get("seed"),
                    "model_versions": dict(model_versions),
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                }
                for video_id, content_hash, source_uri in members
            ]
            insert_ignore(session, GenerationRun.__table__, rows, ["run_key"])  # type: ignore[arg-type]
            session.execute(
                update(GenerationRun)
                .where(
                    GenerationRun.run_key.in_([r["run_key"] for r in rows]),
                    GenerationRun.status == FAILED,
                    GenerationRun.error_kind != "input",
                )
                .values(status=PENDING)
            )
    return job_counts(url, catalog_id, job_fp)


def _member_runs(catalog_id: int, job_fp: str) -> Any:  # noqa: ANN401 - a SQLAlchemy clause
    """This job's runs of the catalog's members, quarantined members left out (nothing claims them)."""
    return and_(
        GenerationRun.job_fp == job_fp,
        GenerationRun.video_id.in_(
            select(CatalogVideo.video_id).where(
                CatalogVideo.catalog_id == catalog_id, CatalogVideo.quarantined_at.is_(None)
            )
        ),
    )


def job_counts(url: str, catalog_id: int, job_fp: str) -> dict[str, int]:
    with session_scope(url) as session:
        rows = session.execute(
            select(GenerationRun.status, func.count())
            .where(_member_runs(catalog_id, job_fp))
            .group_by(GenerationRun.status)
        ).all()
    counts = {state: 0 for state in (PENDING, RUNNING, SUCCEEDED, FAILED)}
    counts.update({state: int(n) for state, n in rows})
    return counts


def reap(url: str, catalog_id: int | None = None) -> int:
    """Return expired or orphaned running claims to pending; returns how many."""
    now = utcnow()
    reaped = 0
    with session_scope(url) as session:
        query = select(GenerationRun.id, GenerationRun.lease_owner, GenerationRun.lease_expires_at).where(
            GenerationRun.status == RUNNING
        )
        if catalog_id is not None:
            query = query.where(
                GenerationRun.video_id.in_(select(CatalogVideo.video_id).where(CatalogVideo.catalog_id == catalog_id))
            )
        running = session.execute(query).all()
        for run_id, owner, expires in running:
            expired = expires is None or expires < now
            if not expired and not (owner and owner_is_dead(owner)):
                continue
            # Conditional on the owner we saw, so a renewal that raced us wins.
            result = session.execute(
                update(GenerationRun)
                .where(GenerationRun.id == run_id, GenerationRun.status == RUNNING, GenerationRun.lease_owner == owner)
                .values(status=PENDING, lease_owner=None, lease_expires_at=None)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                reaped += 1
                log.warning("reclaimed run %s from %s (%s)", run_id, owner, "expired" if expired else "owner gone")
    return reaped


def _take_pending(session: Session, run_id: int, owner: str, lease_s: float) -> bool:
    """Move one run from pending to running under `owner`'s lease; False if another worker got it first.

    The status check inside the UPDATE is what makes a claim exclusive on every database.
    """
    now = utcnow()
    result = session.execute(
        update(GenerationRun)
        .where(GenerationRun.id == run_id, GenerationRun.status == PENDING)
        .values(
            status=RUNNING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_s),
            attempts=GenerationRun.attempts + 1,
            started_at=now,
            error=None,
            error_kind=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_next(url: str, catalog_id: int, job_fp: str, owner: str, lease_s: float) -> Claim | None:
    """Claim one pending run of this catalog's current job, or None when nothing is left."""
    with session_scope(url) as session:
        candidates = select(GenerationRun.id).where(GenerationRun.status == PENDING, _member_runs(catalog_id, job_fp))
        if session.get_bind().dialect.name == "postgresql":
            candidates = candidates.order_by(GenerationRun.id).limit(1).with_for_update(skip_locked=True)
        else:
            candidates = candidates.order_by(GenerationRun.id).limit(8)
        for run_id in session.execute(candidates).scalars().all():
            if not _take_pending(session, run_id, owner, lease_s):
                continue
            run, content_hash, probe = session.execute(
                select(GenerationRun, Video.content_hash, Video.probe)
                .join(Video, Video.id == GenerationRun.video_id)
                .where(GenerationRun.id == run_id)
            ).one()
            return Claim(
                run_id=run.id,
                run_key=run.run_key,
                video_id=int(run.video_id),
                content_hash=content_hash,
                source_uri=run.source_uri,
                owner=owner,
                attempts=run.attempts,
                probe=probe,
            )
    return None


def renew(url: str, run_id: int, owner: str, lease_s: float) -> bool:
    """Extend our lease; False means it was reaped and someone else may hold the run now."""
    with session_scope(url) as session:
        result = session.execute(
            update(GenerationRun)
            .where(GenerationRun.id == run_id, GenerationRun.lease_owner == owner, GenerationRun.status == RUNNING)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release(url: str, run_id: int, owner: str) -> None:
    """Give an unfinished claim back (e.g. on cancellation) so the next run takes it at once."""
    with session_scope(url) as session:
        session.execute(
            update(GenerationRun)
            .where(GenerationRun.id == run_id, GenerationRun.lease_owner == owner, GenerationRun.status == RUNNING)
            .values(status=PENDING, lease_owner=None, lease_expires_at=None)
        )


@contextmanager
def held_lease(url: str, run_id: int, owner: str, lease_s: float) -> Iterator[None]:
    """Renew the lease every third of its length while the body runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease_s / 3):
            try:
                if not renew(url, run_id, owner, lease_s):
                    log.warning("lost the lease on run %s; finishing anyway (writes are idempotent)", run_id)
                    return
            except Exception:  # noqa: BLE001 - a missed beat is survivable; the next one may work
                log.warning("could not renew the lease on run %s", run_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"lease-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def stale_running(url: str) -> list[tuple[int, str | None]]:
    """Running claims, for diagnostics and tests."""
    with session_scope(url) as session:
        return [
            (int(i), o)
            for i, o in session.execute(
                select(GenerationRun.id, GenerationRun.lease_owner).where(
                    or_(GenerationRun.status == RUNNING, GenerationRun.lease_owner.is_not(None))
                )
            ).all()
        ]


def claim_run(
    url: str,
    *,
    run_key: str,
    video_id: int,
    source_uri: str,
    job_params: Mapping[str, Any],
    model_versions: Mapping[str, str],
    owner: str,
    lease_s: float,
    force: bool = False,
) -> Claim | None:
    """Claim the run of one particular job (creating its row); None if it is done or held elsewhere.

    An explicit request for one video retries a failed run, and with `force` redoes a finished one
    (same object keys, so nothing duplicates).
    """
    from flows.storage.persist import ensure_run

    with session_scope(url) as session:
        run = ensure_run(
            session,
            run_key=run_key,
            video_id=video_id,
            source_uri=source_uri,
            params=job_params,
            model_versions=model_versions,
        )
        if run.status == FAILED or (force and run.status == SUCCEEDED):
            run.status = PENDING
        session.flush()
        if not _take_pending(session, run.id, owner, lease_s):
            return None
        content_hash, probe = session.execute(select(Video.content_hash, Video.probe).where(Video.id == video_id)).one()
        attempts = session.execute(select(GenerationRun.attempts).where(GenerationRun.id == run.id)).scalar_one()
        return Claim(
            run_id=run.id,
            run_key=run_key,
            video_id=video_id,
            content_hash=content_hash,
            source_uri=source_uri,
            owner=owner,
            attempts=int(attempts),
            probe=probe,
        )


def run_state(url: str, run_key: str) -> dict[str, Any]:
    from db.models import Artifact

    with session_scope(url) as session:
        run = session.execute(select(GenerationRun).where(GenerationRun.run_key == run_key)).scalar_one()
        artifacts = session.execute(select(Artifact.kind, Artifact.object_key).where(Artifact.run_id == run.id)).all()
        return {
            "run_id": run.id,
            "status": run.status,
            "error": run.error,
            "artifacts": {kind: key for kind, key in artifacts},
        }


def link_run(url: str, run_id: int, catalog_id: int | None, flow_link: int | None) -> None:
    with session_scope(url) as session:
        run = session.get(GenerationRun, run_id)
        if run is None:
            return
        if catalog_id is not None and run.catalog_id is None:
            run.catalog_id = catalog_id
        if flow_link is not None:
            run.flow_run_id = flow_link
