"""Recovering failed catalog videos: failure streaks and automatic quarantine, and the operator's retry,
quarantine and replace.

A catalog video that fails on bad input is retried by every scheduled run (scoring re-scores what has no
score; a backfill re-claims what an operator re-queued), so without a way out it fails every night. The
way out, per member video (catalog_videos):
- a streak of bad-input failures in a row; at `quarantine_after` the video is quarantined once (one
  WARNING line), and scheduled runs skip it from then on;
- `retry` releases and re-queues failed or quarantined videos; `quarantine` skips one by hand;
- `replace` points an external id at new content (a fixed file), with a clean slate.
Outages (infra failures) never count: a model server that is down must not quarantine a catalog.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from db.models import FAILED, PENDING, Catalog, CatalogVideo, EmotionPrediction, Failure, GenerationRun, utcnow
from db.session import session_scope
from emsync_models.errors import InputError
from flows.storage.streaks import display_name

log = logging.getLogger(__name__)


def active_member() -> Any:  # noqa: ANN401 - a SQLAlchemy clause
    """The members scheduled work still takes: not quarantined."""
    return CatalogVideo.quarantined_at.is_(None)


@dataclass(frozen=True)
class Handled:
    """One video an operator command acted on, named the way the operator knows it."""

    catalog: str
    video: str  # external id, else file name
    source_uri: str
    action: str
    detail: str = ""


def _catalog_id(session: Session, name: str) -> int:
    catalog_id = session.execute(select(Catalog.id).where(Catalog.name == name.strip())).scalar()
    if catalog_id is None:
        raise InputError(name, "no such catalog (see `emsync status`)")
    return int(catalog_id)


def _member(session: Session, catalog: str, ref: str) -> CatalogVideo:
    """A member by external id, else by source uri (for catalogs ingested without external ids)."""
    catalog_id = _catalog_id(session, catalog)
    member = session.execute(
        select(CatalogVideo).where(
            CatalogVideo.catalog_id == catalog_id,
            or_(CatalogVideo.external_id == ref, and_(CatalogVideo.external_id.is_(None),
                                                      CatalogVideo.source_uri == ref)),
        )
    ).scalars().first()
    if member is None:
        raise InputError(ref, f"no video with this external id (or source uri) in catalog {catalog.strip()}")
    return member


def _failed_members(session: Session, catalog_id: int | None) -> list[CatalogVideo]:
    """Members left failed (a failed run and no success since; a score failure and no score) or quarantined."""
    failed_run = exists().where(
        GenerationRun.video_id == CatalogVideo.video_id, GenerationRun.status == FAILED,
    )
    score_failed = exists().where(
        Failure.catalog_id == CatalogVideo.catalog_id, Failure.video_id == CatalogVideo.video_id,
        Failure.stage == "score",
    )
    scored = exists().where(EmotionPrediction.video_id == CatalogVideo.video_id, EmotionPrediction.scene_index == -1)
    query = select(CatalogVideo).where(
        or_(CatalogVideo.quarantined_at.is_not(None), failed_run, and_(score_failed, ~scored))
    )
    if catalog_id is not None:
        query = query.where(CatalogVideo.catalog_id == catalog_id)
    return list(session.execute(query.order_by(CatalogVideo.catalog_id, CatalogVideo.video_id)).scalars())


def retry(url: str, catalog: str | None = None, refs: tuple[str, ...] = ()) -> list[Handled]:
    """Release and re-queue failed or quarantined videos: all, one catalog's, or the named ones.

    Failed soundtrack runs go back to pending (the next backfill takes them); scoring re-scores every
    unscored, unquarantined video on its next run anyway. Idempotent: a second retry finds nothing new.
    """
    if refs and catalog is None:
        raise InputError("--external-id", "name the catalog the external ids belong to")
    handled: list[Handled] = []
    with session_scope(url) as session:
        if refs:
            assert catalog is not None
            members = [_member(session, catalog, ref) for ref in refs]
        else:
            members = _failed_members(session, _catalog_id(session, catalog) if catalog is not None else None)
        names = {int(i): str(n) for i, n in session.execute(select(Catalog.id, Catalog.name))}
        for member in members:
            was = "quarantined" if member.quarantined_at is not None else "failed"
            member.quarantined_at = None
            member.quarantine_reason = None
            member.failure_streak = 0
            requeued = session.execute(
                update(GenerationRun)
                .where(GenerationRun.video_id == member.video_id, GenerationRun.status == FAILED)
                .values(status=PENDING, error=None, error_kind=None, lease_owner=None, lease_expires_at=None)
            ).rowcount  # type: ignore[attr-defined]
            detail = f"was {was}; {requeued} soundtrack run{'s' if requeued != 1 else ''} re-queued"
            handled.append(Handled(names[member.catalog_id], display_name(member.external_id, member.source_uri),
                                   member.source_uri, "retry", detail))
    return handled


def quarantine(url: str, catalog: str, ref: str, reason: str | None = None) -> Handled:
    """Skip one video in scheduled runs until it is retried or replaced (kept, counted, never failed)."""
    with session_scope(url) as session:
        member = _member(session, catalog, ref)
        name = display_name(member.external_id, member.source_uri)
        if member.quarantined_at is not None:
            return Handled(catalog.strip(), name, member.source_uri, "quarantine",
                           f"already quarantined since {member.quarantined_at:%Y-%m-%d %H:%M} UTC")
        member.quarantined_at = utcnow()
        member.quarantine_reason = f"by an operator: {reason}" if reason else "by an operator"
        return Handled(catalog.strip(), name, member.source_uri, "quarantine", member.quarantine_reason)


def replace(url: str, catalog: str, ref: str, content_hash: str, source_uri: str, probe: dict[str, Any]) -> Handled:
    """Point a member (by external id) at other content: the fixed file. Its failure state is cleared;
    the next backfill makes the new content's soundtrack (the old content's runs and objects stay)."""
    from flows.storage.persist import ensure_video

    with session_scope(url) as session:
        member = _member(session, catalog, ref)
        name = display_name(member.external_id, member.source_uri)
        video_id = ensure_video(session, content_hash=content_hash, source_uri=source_uri, probe=probe)
        if video_id != member.video_id:
            other = session.get(CatalogVideo, (member.catalog_id, video_id))
            if other is not None:
                raise InputError(source_uri, "this content is already in the catalog as "
                                 f"{display_name(other.external_id, other.source_uri)}")
        old_video = member.video_id
        session.execute(
            update(CatalogVideo)
            .where(CatalogVideo.catalog_id == member.catalog_id, CatalogVideo.video_id == old_video)
            .values(video_id=video_id, source_uri=source_uri, failure_streak=0, last_failure_at=None,
                    quarantined_at=None, quarantine_reason=None)
            .execution_options(synchronize_session=False)
        )
        detail = "same content as before: failure state cleared" if video_id == old_video else "new content"
        return Handled(catalog.strip(), name, source_uri, "replace", detail)


def quarantined(url: str, catalog: str | None = None) -> list[dict[str, Any]]:
    """Quarantined videos, oldest first: catalog, video, since, reason."""
    with session_scope(url) as session:
        query = (
            select(Catalog.name, CatalogVideo.external_id, CatalogVideo.source_uri, CatalogVideo.quarantined_at,
                   CatalogVideo.quarantine_reason)
            .join(Catalog, Catalog.id == CatalogVideo.catalog_id)
            .where(CatalogVideo.quarantined_at.is_not(None))
            .order_by(CatalogVideo.quarantined_at)
        )
        if catalog is not None:
            query = query.where(Catalog.name == catalog)
        rows = session.execute(query).all()
    return [
        {"catalog": c, "video": display_name(e, u), "source_uri": u, "since": at, "reason": r or ""}
        for c, e, u, at, r in rows
    ]


def as_dicts(handled: list[Handled]) -> list[dict[str, str]]:
    return [asdict(h) for h in handled]


@lru_cache(maxsize=4096)
def member_name(url: str, catalog_id: int | None, video_id: int) -> str:
    """The operator's name for one video of a catalog (progress lines and logs: asked once per video)."""
    return member_names(url, catalog_id, [video_id])[video_id][0]


def member_names(url: str, catalog_id: int | None, video_ids: list[int]) -> dict[int, tuple[str, str]]:
    """video id -> (the operator's name for it: external id or file name, its source uri) in a catalog;
    a video that is no member there keeps a name too ("video N")."""
    names = {v: (f"video {v}", "") for v in video_ids}
    if not video_ids or catalog_id is None:
        return names
    with session_scope(url) as session:
        rows = session.execute(
            select(CatalogVideo.video_id, CatalogVideo.external_id, CatalogVideo.source_uri).where(
                CatalogVideo.catalog_id == catalog_id, CatalogVideo.video_id.in_(set(video_ids))
            )
        ).all()
    names.update({int(v): (display_name(e, u), u) for v, e, u in rows})
    return names
