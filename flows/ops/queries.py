"""Read-side aggregates for ops: queue depth, model versions, failures, emotions, stage times, throughput.

Each query groups over an index (see migration 0002_ops_indexes) so a scrape stays cheap on a large
catalog; none of them writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from db.models import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    Catalog,
    CatalogVideo,
    EmotionPrediction,
    Failure,
    FlowRunLink,
    GenerationRun,
    Video,
    utcnow,
)
from db.session import session_scope
from emsync_models.emotion.labels import EKMAN6

NO_CATALOG = "(none)"


def catalog_names(url: str) -> dict[int, str]:
    with session_scope(url) as session:
        return {int(i): str(n) for i, n in session.execute(select(Catalog.id, Catalog.name))}


@dataclass(frozen=True)
class QueueDepth:
    catalog: str
    job: str
    model_versions: dict[str, Any]
    pending: int
    claimed: int  # running: a worker took it
    leased: int  # claimed and its lease is still live (claimed - leased = expired, awaiting the reaper)


def job_versions(url: str, fingerprints: set[str]) -> dict[str, dict[str, Any]]:
    """The model versions behind each job fingerprint (one row per fingerprint, by index)."""
    found: dict[str, dict[str, Any]] = {}
    with session_scope(url) as session:
        for fp in sorted(fingerprints):
            # Every run of a fingerprint has the same versions (they are what it fingerprints): any one will do.
            versions = session.execute(
                select(GenerationRun.model_versions).where(GenerationRun.job_fp == fp).limit(1)
            ).scalar()
            if versions is not None:
                found[fp] = dict(versions)
    return found


def queue_depth(url: str, names: dict[int, str] | None = None) -> list[QueueDepth]:
    """Pending and claimed runs per catalog and job (model versions + parameters)."""
    now = utcnow()
    with session_scope(url) as session:
        rows = session.execute(
            select(
                GenerationRun.catalog_id,
                GenerationRun.job_fp,
                func.sum(case((GenerationRun.status == PENDING, 1), else_=0)),
                func.sum(case((GenerationRun.status == RUNNING, 1), else_=0)),
                func.sum(
                    case(
                        ((GenerationRun.status == RUNNING) & (GenerationRun.lease_expires_at > now), 1), else_=0
                    )
                ),
            )
            .where(GenerationRun.status.in_((PENDING, RUNNING)))
            .group_by(GenerationRun.catalog_id, GenerationRun.job_fp)
        ).all()
    names = catalog_names(url) if names is None else names
    versions = job_versions(url, {str(r[1]) for r in rows if r[1]})
    return [
        QueueDepth(
            catalog=names.get(catalog_id, NO_CATALOG) if catalog_id is not None else NO_CATALOG,
            job=str(fp or ""),
            model_versions=versions.get(str(fp), {}),
            pending=int(pending or 0),
            claimed=int(claimed or 0),
            leased=int(leased or 0),
        )
        for catalog_id, fp, pending, claimed, leased in rows
    ]


def _counts_by_catalog(url: str, names: dict[int, str] | None, catalog: Any, first: Any,
                       second: Any) -> list[tuple[str, str, str, int]]:
    """(catalog name, first, second, count) grouped by the three columns; no catalog -> NO_CATALOG."""
    with session_scope(url) as session:
        rows = session.execute(select(catalog, first, second, func.count()).group_by(catalog, first, second)).all()
    names = catalog_names(url) if names is None else names
    return [(names.get(c, NO_CATALOG) if c is not None else NO_CATALOG, str(a or ""), str(b), int(n))
            for c, a, b, n in rows]


def runs_by_status(url: str, names: dict[int, str] | None = None) -> list[tuple[str, str, str, int]]:
    """(catalog, job, status, count) over every soundtrack run."""
    return _counts_by_catalog(url, names, GenerationRun.catalog_id, GenerationRun.job_fp, GenerationRun.status)


def quarantined_per_catalog(url: str, names: dict[int, str] | None = None) -> dict[str, int]:
    with session_scope(url) as session:
        rows = session.execute(
            select(CatalogVideo.catalog_id, func.count())
            .where(CatalogVideo.quarantined_at.is_not(None))
            .group_by(CatalogVideo.catalog_id)
        ).all()
    names = catalog_names(url) if names is None else names
    return {names[c]: int(n) for c, n in rows if c in names}


def members_per_catalog(url: str, names: dict[int, str] | None = None) -> dict[str, int]:
    with session_scope(url) as session:
        rows = session.execute(select(CatalogVideo.catalog_id, func.count()).group_by(CatalogVideo.catalog_id)).all()
    names = catalog_names(url) if names is None else names
    counts = {name: 0 for name in names.values()}
    counts.update({names[c]: int(n) for c, n in rows if c in names})
    return counts


def scored_per_catalog(url: str, names: dict[int, str] | None = None) -> dict[str, int]:
    """Member videos with an overall emotion score (any model)."""
    scored = (
        select(EmotionPrediction.video_id).where(EmotionPrediction.scene_index == -1).distinct().subquery()
    )
    with session_scope(url) as session:
        rows = session.execute(
            select(CatalogVideo.catalog_id, func.count())
            .join(scored, scored.c.video_id == CatalogVideo.video_id)
            .group_by(CatalogVideo.catalog_id)
        ).all()
    names = catalog_names(url) if names is None else names
    return {names[c]: int(n) for c, n in rows if c in names}


def failures_by_kind(url: str, names: dict[int, str] | None = None) -> list[tuple[str, str, str, int]]:
    """(catalog, stage, kind, count) over the append-only failure log: a monotonic count."""
    return _counts_by_catalog(url, names, Failure.catalog_id, Failure.stage, Failure.kind)


def dominant_emotion() -> Any:  # noqa: ANN401 - a SQLAlchemy expression
    """SQL for the label with the highest overall probability (ties: the first in EKMAN6)."""
    probs = {label: func.coalesce(EmotionPrediction.probs[label].as_float(), -1.0) for label in EKMAN6}
    whens = []
    for label in EKMAN6:
        others = [probs[label] >= probs[o] for o in EKMAN6 if o != label]
        condition = others[0]
        for other in others[1:]:
            condition = condition & other
        whens.append((condition, label))
    return case(*whens, else_="unknown")


def emotions_per_catalog(url: str, names: dict[int, str] | None = None) -> list[tuple[str, str, str, str, int]]:
    """(catalog, emotion model name, model version, dominant emotion, videos) over overall predictions."""
    label = dominant_emotion().label("emotion")
    model, version = EmotionPrediction.model_name, EmotionPrediction.model_version
    with session_scope(url) as session:
        rows = session.execute(
            select(CatalogVideo.catalog_id, model, version, label, func.count())
            .join(EmotionPrediction, EmotionPrediction.video_id == CatalogVideo.video_id)
            .where(EmotionPrediction.scene_index == -1)
            .group_by(CatalogVideo.catalog_id, model, version, label)
        ).all()
    names = catalog_names(url) if names is None else names
    return [(names[c], str(m), str(v), str(e), int(n)) for c, m, v, e, n in rows if c in names]


# The stages at which a member video can be left failed (register failures have no member video).
OUTSTANDING_STAGES = ("score", "soundtrack")


def failed_videos_outstanding(url: str, names: dict[int, str] | None = None) -> dict[tuple[str, str], int]:
    """(catalog, stage) -> member videos left failed there and not quarantined: for "soundtrack", the
    video's latest run failed; for "score", a score failure was logged for it in this catalog and it has
    no overall score."""
    latest = select(GenerationRun.video_id, func.max(GenerationRun.id).label("run_id")).group_by(
        GenerationRun.video_id
    ).subquery()
    scored = select(EmotionPrediction.video_id).where(EmotionPrediction.scene_index == -1)
    score_failed = (
        select(Failure.catalog_id, Failure.video_id)
        .where(Failure.stage == "score", Failure.video_id.is_not(None))
        .distinct()
        .subquery()
    )
    with session_scope(url) as session:
        soundtrack = session.execute(
            select(CatalogVideo.catalog_id, func.count())
            .join(latest, latest.c.video_id == CatalogVideo.video_id)
            .join(GenerationRun, GenerationRun.id == latest.c.run_id)
            .where(GenerationRun.status == FAILED, CatalogVideo.quarantined_at.is_(None))
            .group_by(CatalogVideo.catalog_id)
        ).all()
        score = session.execute(
            select(CatalogVideo.catalog_id, func.count())
            .join(
                score_failed,
                (score_failed.c.catalog_id == CatalogVideo.catalog_id)
                & (score_failed.c.video_id == CatalogVideo.video_id),
            )
            .where(CatalogVideo.video_id.not_in(scored), CatalogVideo.quarantined_at.is_(None))
            .group_by(CatalogVideo.catalog_id)
        ).all()
    names = catalog_names(url) if names is None else names
    found: dict[tuple[str, str], int] = {}
    for stage, rows in (("soundtrack", soundtrack), ("score", score)):
        for catalog_id, n in rows:
            if catalog_id in names:
                found[(names[catalog_id], stage)] = int(n)
    return found


def flow_run_counts(
    url: str, names: dict[int, str] | None = None
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int]]:
    """({(flow, catalog, end state): runs} over ended flow runs, {(flow, catalog): runs running under a
    live lease})."""
    now = utcnow()
    with session_scope(url) as session:
        ended = session.execute(
            select(FlowRunLink.flow_name, FlowRunLink.catalog_id, FlowRunLink.state, func.count())
            .where(FlowRunLink.state != RUNNING)
            .group_by(FlowRunLink.flow_name, FlowRunLink.catalog_id, FlowRunLink.state)
        ).all()
        running = session.execute(
            select(FlowRunLink.flow_name, FlowRunLink.catalog_id, func.count())
            .where(FlowRunLink.state == RUNNING, FlowRunLink.lease_expires_at > now)
            .group_by(FlowRunLink.flow_name, FlowRunLink.catalog_id)
        ).all()
    names = catalog_names(url) if names is None else names

    def name(catalog_id: int | None) -> str:
        return names.get(catalog_id, NO_CATALOG) if catalog_id is not None else NO_CATALOG

    by_state: dict[tuple[str, str, str], int] = {}
    for flow, catalog_id, state, n in ended:
        key = (str(flow), name(catalog_id), str(state))
        by_state[key] = by_state.get(key, 0) + int(n)
    active: dict[tuple[str, str], int] = {}
    for flow, catalog_id, n in running:
        key = (str(flow), name(catalog_id))
        active[key] = active.get(key, 0) + int(n)
    return by_state, active


def emotion_models(url: str) -> list[tuple[str, str, int]]:
    """(model name, version, videos scored) for every emotion model that scored something."""
    with session_scope(url) as session:
        rows = session.execute(
            select(EmotionPrediction.model_name, EmotionPrediction.model_version, func.count())
            .where(EmotionPrediction.scene_index == -1)
            .group_by(EmotionPrediction.model_name, EmotionPrediction.model_version)
        ).all()
    return [(str(a), str(b), int(n)) for a, b, n in rows]


def finished_runs_since(url: str, since: datetime, limit: int = 50_000) -> list[tuple[datetime, str, dict[str, Any]]]:
    """(finished at, status, stage timings) of runs finished after `since`, oldest first."""
    with session_scope(url) as session:
        rows = session.execute(
            select(GenerationRun.finished_at, GenerationRun.status, GenerationRun.timings)
            .where(GenerationRun.finished_at > since, GenerationRun.status.in_((SUCCEEDED, FAILED)))
            .order_by(GenerationRun.finished_at)
            .limit(limit)
        ).all()
    return [(f, str(s), dict(t or {})) for f, s, t in rows]


def last_flow_runs(url: str, names: dict[int, str] | None = None) -> list[tuple[str, str, datetime, str]]:
    """(flow name, catalog, started at, state) of the latest run of each flow per catalog."""
    with session_scope(url) as session:
        latest = (
            select(FlowRunLink.flow_name, FlowRunLink.catalog_id, func.max(FlowRunLink.started_at).label("at"))
            .group_by(FlowRunLink.flow_name, FlowRunLink.catalog_id)
            .subquery()
        )
        rows = session.execute(
            select(FlowRunLink.flow_name, FlowRunLink.catalog_id, FlowRunLink.started_at, FlowRunLink.state).join(
                latest,
                (latest.c.flow_name == FlowRunLink.flow_name)
                & (latest.c.at == FlowRunLink.started_at)
                & (func.coalesce(latest.c.catalog_id, -1) == func.coalesce(FlowRunLink.catalog_id, -1)),
            )
        ).all()
    names = catalog_names(url) if names is None else names
    return [
        (str(f), names.get(c, NO_CATALOG) if c is not None else NO_CATALOG, at, str(state))
        for f, c, at, state in rows
    ]


def throughput(url: str, hours: int = 24) -> list[tuple[datetime, int, int]]:
    """(hour, succeeded, failed) soundtrack runs finished per hour over the last `hours`, oldest first."""
    since = utcnow() - timedelta(hours=hours)
    buckets: dict[datetime, list[int]] = {}
    for finished, status, _ in finished_runs_since(url, since):
        hour = finished.replace(minute=0, second=0, microsecond=0)
        counts = buckets.setdefault(hour, [0, 0])
        counts[0 if status == SUCCEEDED else 1] += 1
    return [(hour, ok, bad) for hour, (ok, bad) in sorted(buckets.items())]


def recent_failures(
    url: str, limit: int = 50, names: dict[int, str] | None = None
) -> list[tuple[datetime, str, str, str, str, str]]:
    """(when, catalog, stage, kind, subject, reason), newest first."""
    with session_scope(url) as session:
        rows = session.execute(
            select(Failure.created_at, Failure.catalog_id, Failure.stage, Failure.kind, Failure.subject, Failure.reason)
            .order_by(Failure.id.desc())
            .limit(limit)
        ).all()
    names = catalog_names(url) if names is None else names
    return [
        (at, names.get(c, NO_CATALOG) if c is not None else NO_CATALOG, str(st), str(k), str(sub), str(r))
        for at, c, st, k, sub, r in rows
    ]


@dataclass(frozen=True)
class CatalogStatus:
    name: str
    videos: int
    scored: int
    soundtracked: int
    failed: int
    quarantined: int
    rejected: int
    last_run: datetime | None
    last_state: str | None
    music_model: str | None = None  # the model its backfills use (None: never backfilled)
    # member videos with a succeeded soundtrack, per music version and model ("a192e17cdc8c (v1)": 12)
    soundtracked_by_music: dict[str, int] = field(default_factory=dict)
    music_style: str | None = None  # the catalog's fixed style and palette (None: chosen per video)
    music_instruments: str | None = None


def catalog_status(url: str) -> list[CatalogStatus]:
    """Per catalog: members, members with any emotion score, with any succeeded soundtrack (in all and
    per music model), with a failure and no success (quarantined ones apart), quarantined, manifest rows
    rejected (distinct), the latest flow run, and the music model its backfills use."""
    from flows.catalog.pinning import coverage, music_label

    by_music = coverage(url)
    out: list[CatalogStatus] = []
    with session_scope(url) as session:
        catalogs = session.execute(select(Catalog.id, Catalog.name, Catalog.music_model, Catalog.music_style,
                                          Catalog.music_instruments).order_by(Catalog.name)).all()
        for catalog_id, name, music_model, music_style, music_instruments in catalogs:
            members = select(CatalogVideo.video_id).where(CatalogVideo.catalog_id == catalog_id)
            videos = session.execute(select(func.count()).select_from(members.subquery())).scalar_one()
            scored = session.execute(
                select(func.count(func.distinct(EmotionPrediction.video_id))).where(
                    EmotionPrediction.video_id.in_(members), EmotionPrediction.scene_index == -1
                )
            ).scalar_one()
            done = select(GenerationRun.video_id).where(
                GenerationRun.video_id.in_(members), GenerationRun.status == SUCCEEDED
            )
            soundtracked = session.execute(
                select(func.count(func.distinct(GenerationRun.video_id))).where(GenerationRun.video_id.in_(done))
            ).scalar_one()
            quarantined_members = select(CatalogVideo.video_id).where(
                CatalogVideo.catalog_id == catalog_id, CatalogVideo.quarantined_at.is_not(None)
            )
            failed_runs = select(GenerationRun.video_id).where(
                GenerationRun.video_id.in_(members), GenerationRun.status == FAILED
            )
            failed_scores = select(Failure.video_id).where(
                Failure.catalog_id == catalog_id, Failure.video_id.is_not(None), Failure.stage == "score"
            )
            failed = session.execute(
                select(func.count(func.distinct(Video.id))).where(
                    and_(
                        Video.id.in_(failed_runs.union(failed_scores)),
                        Video.id.not_in(done),
                        Video.id.not_in(quarantined_members),
                    )
                )
            ).scalar_one()
            quarantined = session.execute(
                select(func.count()).select_from(quarantined_members.subquery())
            ).scalar_one()
            # The failure log is append-only; a bad row re-read by every run counts once.
            rejected = session.execute(
                select(func.count(func.distinct(Failure.subject))).where(
                    Failure.catalog_id == catalog_id,
                    Failure.video_id.is_(None),
                    Failure.stage.in_(("manifest", "register")),
                )
            ).scalar_one()
            last = session.execute(
                select(FlowRunLink.started_at, FlowRunLink.state)
                .where(FlowRunLink.catalog_id == catalog_id)
                .order_by(FlowRunLink.started_at.desc())
                .limit(1)
            ).first()
            out.append(
                CatalogStatus(
                    name=name,
                    videos=int(videos),
                    scored=int(scored),
                    soundtracked=int(soundtracked),
                    failed=int(failed),
                    quarantined=int(quarantined),
                    rejected=int(rejected),
                    last_run=last[0] if last else None,
                    last_state=last[1] if last else None,
                    music_model=music_model,
                    soundtracked_by_music={music_label(v): n for v, n in sorted(by_music.get(catalog_id, {}).items())},
                    music_style=music_style,
                    music_instruments=music_instruments,
                )
            )
    return out
