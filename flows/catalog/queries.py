"""Catalog-level reads and writes: catalogs, membership, scores, flow-run links, failures, status.

Plain functions taking a database URL and ids, so Prefect tasks can call them with hashable arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError

from db.models import (
    ABANDONED,
    RUNNING,
    Catalog,
    CatalogVideo,
    EmotionPrediction,
    Failure,
    FlowRunLink,
    Video,
    utcnow,
)
from db.session import session_scope
from emsync_models.errors import InputError
from flows.storage.persist import ensure_video, insert_ignore, save_boundaries, save_emotion

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$")


def storable(text: str) -> str:
    """Text PostgreSQL can hold: NUL (which a hostile manifest can carry into a reason) shown as \\x00."""
    return text.replace("\x00", "\\x00")


def check_catalog_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise InputError(
            name or "(empty)", "catalog names are 1-200 letters, digits, '.', '_', '-' or spaces, first a letter/digit"
        )
    return name


def ensure_catalog(url: str, name: str, description: str | None = None) -> int:
    name = check_catalog_name(name)
    with session_scope(url) as session:
        insert_ignore(
            session,
            Catalog.__table__,  # type: ignore[arg-type]
            [{"name": name, "description": description, "created_at": utcnow()}],
            ["name"],
        )
        return int(session.execute(select(Catalog.id).where(Catalog.name == name)).scalar_one())


def find_catalog(url: str, name: str) -> int | None:
    with session_scope(url) as session:
        return session.execute(select(Catalog.id).where(Catalog.name == name.strip())).scalar()


def add_member(
    url: str,
    *,
    catalog_id: int,
    content_hash: str,
    source_uri: str,
    probe: dict[str, Any],
    external_id: str | None,
    metadata: dict[str, Any],
) -> tuple[int, str | None]:
    """Register the video and its membership; returns (video id, problem or None).

    A problem is returned, not raised, for rows that are valid but collide with what the catalog already
    holds (same external id on other content, same content under another uri).
    """
    with session_scope(url) as session:
        return _add_member(session, catalog_id=catalog_id, content_hash=content_hash, source_uri=source_uri,
                           probe=probe, external_id=external_id, metadata=metadata)


@dataclass(frozen=True)
class Member:
    """One manifest row ready to register (checked, hashed, probed)."""

    content_hash: str
    source_uri: str
    probe: dict[str, Any]
    external_id: str | None
    metadata: dict[str, Any]


def stored_probes(url: str, hashes: list[str]) -> dict[str, dict[str, Any]]:
    """The probe registered for each of these contents that has one (by SHA-256)."""
    if not hashes:
        return {}
    with session_scope(url) as session:
        found = session.execute(select(Video.content_hash, Video.probe).where(
            Video.content_hash.in_(set(hashes)), Video.probe.is_not(None)))
        return {h: p for h, p in found if isinstance(p, dict)}


def add_members(url: str, catalog_id: int, members: list[Member]) -> list[tuple[int | None, str | None]]:
    """`add_member` for many rows in one transaction: one commit, and for rows that are new to the
    database and the catalog (a first ingest: nearly all of them) a few set-wise statements per batch
    instead of several per row, which dominated an ingest's time. Other rows (content or external ids
    already known) take `add_member`'s checks one by one, each in a savepoint, so a row the database
    refuses is that row's problem (returned as such) and the others are kept."""
    results: dict[int, tuple[int | None, str | None]] = {}
    with session_scope(url) as session:
        results.update(_unchanged_rows(session, catalog_id, members))
        simple = [i for i in _new_rows(session, catalog_id, members) if i not in results]
        if simple:
            try:
                with session.begin_nested():
                    results.update(_add_new_members(session, catalog_id, members, simple))
            except DataError:
                pass  # one of them is refused: find which, row by row below
        for i, m in enumerate(members):
            if i in results:
                continue
            try:
                with session.begin_nested():
                    results[i] = _add_member(session, catalog_id=catalog_id, content_hash=m.content_hash,
                                             source_uri=m.source_uri, probe=m.probe, external_id=m.external_id,
                                             metadata=m.metadata)
            except DataError as exc:
                reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
                results[i] = (None, f"the database refused this row ({reason})")
    return [results[i] for i in range(len(members))]


def _unchanged_rows(session: Any, catalog_id: int,  # noqa: ANN401 - a Session
                    members: list[Member]) -> dict[int, tuple[int | None, str | None]]:
    """Rows this catalog already holds exactly so (same content, probed, same source, no other external
    id, no metadata to add): a re-ingest of an unchanged manifest, nearly all of its rows. What
    `_add_member` would conclude for them, read set-wise, with nothing written."""
    hashes = {m.content_hash for m in members}
    videos = dict(session.execute(select(Video.content_hash, Video.id).where(
        Video.content_hash.in_(hashes), Video.probe.is_not(None))).all())
    if not videos:
        return {}
    held = {video_id: (source_uri, external_id, meta) for video_id, source_uri, external_id, meta in session.execute(
        select(CatalogVideo.video_id, CatalogVideo.source_uri, CatalogVideo.external_id, CatalogVideo.meta).where(
            CatalogVideo.catalog_id == catalog_id, CatalogVideo.video_id.in_(set(videos.values()))))}
    unchanged: dict[int, tuple[int | None, str | None]] = {}
    for i, m in enumerate(members):
        video_id = videos.get(m.content_hash)
        if video_id is None or video_id not in held:
            continue
        source_uri, external_id, meta = held[video_id]
        if source_uri != m.source_uri or m.external_id not in (None, external_id):
            continue
        if m.metadata and {**(meta or {}), **m.metadata} != (meta or {}):
            continue
        unchanged[i] = (int(video_id), None)
    return unchanged


def _new_rows(session: Any, catalog_id: int, members: list[Member]) -> list[int]:  # noqa: ANN401 - a Session
    """Indexes of rows whose content is not yet a video and whose external id is not yet in the catalog,
    each unique within the batch: they need no per-row checks."""
    hashes = {m.content_hash for m in members}
    known = set(session.execute(select(Video.content_hash).where(Video.content_hash.in_(hashes))).scalars())
    ids = {m.external_id for m in members if m.external_id is not None}
    held = set(session.execute(select(CatalogVideo.external_id).where(
        CatalogVideo.catalog_id == catalog_id, CatalogVideo.external_id.in_(ids))).scalars()) if ids else set()
    seen_hash: set[str] = set()
    seen_id: set[str] = set()
    simple = []
    for i, m in enumerate(members):
        if m.content_hash in known or m.content_hash in seen_hash or m.external_id in held or (
                m.external_id is not None and m.external_id in seen_id):
            continue
        seen_hash.add(m.content_hash)
        if m.external_id is not None:
            seen_id.add(m.external_id)
        simple.append(i)
    return simple


def _add_new_members(session: Any, catalog_id: int, members: list[Member],  # noqa: ANN401 - a Session
                     simple: list[int]) -> dict[int, tuple[int | None, str | None]]:
    from flows.storage.persist import video_row

    rows = [video_row(members[i].content_hash, members[i].source_uri, members[i].probe) for i in simple]
    insert_ignore(session, Video.__table__, rows, ["content_hash"])  # type: ignore[arg-type]
    hashes = [members[i].content_hash for i in simple]
    video_ids = dict(session.execute(select(Video.content_hash, Video.id).where(Video.content_hash.in_(hashes))).all())
    insert_ignore(session, CatalogVideo.__table__, [  # type: ignore[arg-type]
        {"catalog_id": catalog_id, "video_id": video_ids[members[i].content_hash],
         "external_id": members[i].external_id, "source_uri": members[i].source_uri,
         "metadata": members[i].metadata or None, "added_at": utcnow()} for i in simple
    ], ["catalog_id", "video_id"])
    return {i: (int(video_ids[members[i].content_hash]), None) for i in simple}


def _add_member(
    session: Any,  # noqa: ANN401 - a SQLAlchemy Session
    *,
    catalog_id: int,
    content_hash: str,
    source_uri: str,
    probe: dict[str, Any],
    external_id: str | None,
    metadata: dict[str, Any],
) -> tuple[int, str | None]:
    video_id = ensure_video(session, content_hash=content_hash, source_uri=source_uri, probe=probe)
    if external_id is not None:
        holder = session.execute(
            select(CatalogVideo.video_id).where(
                CatalogVideo.catalog_id == catalog_id, CatalogVideo.external_id == external_id
            )
        ).scalar()
        if holder is not None and holder != video_id:
            return video_id, f"external_id {external_id!r} already names other content in this catalog"
    member = session.get(CatalogVideo, (catalog_id, video_id))
    if member is not None:
        if member.source_uri != source_uri:
            return video_id, f"duplicate content: same bytes as {member.source_uri} already in this catalog"
        if external_id is not None and member.external_id not in (None, external_id):
            return video_id, (
                f"duplicate entry: {source_uri} is already in this catalog as external_id "
                f"{member.external_id!r}; {external_id!r} was not recorded"
            )
        if external_id is not None and member.external_id is None:
            member.external_id = external_id
        if metadata:
            member.meta = {**(member.meta or {}), **metadata}
        return video_id, None
    session.add(
        CatalogVideo(
            catalog_id=catalog_id,
            video_id=video_id,
            external_id=external_id,
            source_uri=source_uri,
            meta=metadata or None,
        )
    )
    return video_id, None


def record_problem(
    url: str,
    *,
    stage: str,
    subject: str,
    reason: str,
    kind: str = "input",
    catalog_id: int | None = None,
    video_id: int | None = None,
    row_number: int | None = None,
    flow_run_id: int | None = None,
) -> None:
    from flows.settings import get_settings
    from flows.storage.streaks import note_failure

    with session_scope(url) as session:
        if stage == "score" and kind == "input":
            note_failure(session, catalog_id, video_id, reason, get_settings().batch.quarantine_after)
        session.add(
            Failure(
                stage=stage,
                subject=storable(subject),
                reason=storable(reason),
                kind=kind,
                catalog_id=catalog_id,
                video_id=video_id,
                row_number=row_number,
                flow_run_id=flow_run_id,
            )
        )


def videos_to_score(url: str, catalog_id: int, model_name: str, model_version: str, detector: str) -> list[int]:
    """Member videos with no overall prediction from this emotion model on these cuts (quarantined ones
    are skipped until an operator retries or replaces them)."""
    with session_scope(url) as session:
        scored = select(EmotionPrediction.video_id).where(
            EmotionPrediction.model_name == model_name,
            EmotionPrediction.model_version == model_version,
            EmotionPrediction.detector == detector,
            EmotionPrediction.scene_index == -1,
        )
        return list(
            session.execute(
                select(CatalogVideo.video_id)
                .where(CatalogVideo.catalog_id == catalog_id, CatalogVideo.video_id.not_in(scored),
                       CatalogVideo.quarantined_at.is_(None))
                .order_by(CatalogVideo.video_id)
            ).scalars()
        )


def video_source(url: str, video_id: int, catalog_id: int | None = None) -> tuple[str, str]:
    """(content hash, source uri) — the catalog's own uri for the video when a catalog is given."""
    with session_scope(url) as session:
        video = session.get(Video, video_id)
        if video is None:
            raise InputError(f"video {video_id}", "no such registered video")
        uri = video.source_uri
        if catalog_id is not None:
            member = session.get(CatalogVideo, (catalog_id, video_id))
            uri = member.source_uri if member is not None else uri
        return video.content_hash, uri


def find_video(url: str, ref: str) -> int:
    """A video by id, content hash (or a unique prefix of at least 8 hex digits) or source uri."""
    with session_scope(url) as session:
        if ref.isdigit() and session.get(Video, int(ref)) is not None:
            return int(ref)
        query = select(Video.id)
        if re.fullmatch(r"[0-9a-f]{8,64}", ref):
            query = query.where(Video.content_hash.startswith(ref))
        else:
            query = query.where(Video.source_uri == ref)
        ids = list(session.execute(query.limit(2)).scalars())
    if not ids:
        raise InputError(ref, "no registered video with this id, content hash or source uri")
    if len(ids) > 1:
        raise InputError(ref, "ambiguous: more than one video matches; give more of the content hash")
    return ids[0]


def record_scores(url: str, video_id: int, detector: str, cuts_s: list[float], emotion: dict[str, Any]) -> None:
    from flows.storage.streaks import note_success

    with session_scope(url) as session:
        save_boundaries(session, video_id, detector, cuts_s)
        save_emotion(session, video_id, detector, emotion)
        note_success(session, video_id)


def start_flow_link(
    url: str,
    prefect_flow_run_id: str,
    flow_name: str,
    catalog_id: int | None,
    params: dict,
    owner: str | None = None,
    lease_s: float | None = None,
) -> int:
    with session_scope(url) as session:
        insert_ignore(
            session,
            FlowRunLink.__table__,  # type: ignore[arg-type]
            [
                {
                    "prefect_flow_run_id": prefect_flow_run_id,
                    "flow_name": flow_name,
                    "catalog_id": catalog_id,
                    "parameters": params,
                    "state": RUNNING,
                    "started_at": utcnow(),
                    "lease_owner": owner,
                    "lease_expires_at": None if lease_s is None else utcnow() + timedelta(seconds=lease_s),
                }
            ],
            ["prefect_flow_run_id"],
        )
        link = session.execute(
            select(FlowRunLink).where(FlowRunLink.prefect_flow_run_id == prefect_flow_run_id)
        ).scalar_one()
        if catalog_id is not None:
            link.catalog_id = catalog_id
        return link.id


def finish_flow_link(url: str, link_id: int, state: str, summary: dict[str, Any], only_running: bool = False) -> None:
    """Record how a flow ended; `only_running` leaves a row that already has an outcome as it is."""
    with session_scope(url) as session:
        link = session.get(FlowRunLink, link_id)
        if link is None or only_running and link.state != RUNNING:
            return
        link.state, link.summary, link.finished_at = state, summary, utcnow()
        link.lease_owner = link.lease_expires_at = None


def renew_flow_link(url: str, link_id: int, owner: str, lease_s: float) -> bool:
    with session_scope(url) as session:
        result = session.execute(
            update(FlowRunLink)
            .where(FlowRunLink.id == link_id, FlowRunLink.state == RUNNING, FlowRunLink.lease_owner == owner)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def reap_flow_links(url: str, owner_is_dead: Callable[[str], bool]) -> int:
    """Mark `abandoned` the running flow rows whose lease expired or whose owner process is gone."""
    now = utcnow()
    reaped = 0
    with session_scope(url) as session:
        rows = session.execute(
            select(FlowRunLink.id, FlowRunLink.lease_owner, FlowRunLink.lease_expires_at).where(
                FlowRunLink.state == RUNNING
            )
        ).all()
        for link_id, owner, expires in rows:
            # Rows from before leases existed (no owner, no expiry) are left alone: nothing says they died.
            expired = expires is not None and expires < now
            if not expired and not (owner and owner_is_dead(owner)):
                continue
            result = session.execute(
                update(FlowRunLink)
                .where(FlowRunLink.id == link_id, FlowRunLink.state == RUNNING, FlowRunLink.lease_owner == owner)
                .values(
                    state=ABANDONED,
                    finished_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                    summary={"error": "abandoned: the flow stopped renewing its lease (killed or lost)"},
                )
            )
            reaped += int(result.rowcount)  # type: ignore[attr-defined]
    return reaped


def mean_emotion(
    url: str, video_ids: list[int], model_name: str, model_version: str
) -> tuple[float | None, float | None]:
    if not video_ids:
        return None, None
    with session_scope(url) as session:
        valence, arousal = session.execute(
            select(func.avg(EmotionPrediction.valence), func.avg(EmotionPrediction.arousal)).where(
                EmotionPrediction.video_id.in_(video_ids),
                EmotionPrediction.model_name == model_name,
                EmotionPrediction.model_version == model_version,
                EmotionPrediction.scene_index == -1,
            )
        ).one()
    return (None if valence is None else float(valence)), (None if arousal is None else float(arousal))


