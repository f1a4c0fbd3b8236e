"""The metadata schema: videos, what we computed about them, and what we made from them.

Every table that a re-runnable job writes has a natural unique key (content hash, run key, object key,
...) so writers upsert instead of insert, and a re-run never duplicates a row. Timestamps are always
UTC; SQLite drops the zone on storage, so `UTCDateTime` puts it back on read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints keep Alembic's batch mode (SQLite) and PostgreSQL migrations in step.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store UTC-aware datetimes only")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them naive-UTC so the text order is the time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, datetime: UTCDateTime}


# Run states. A run is claimed by moving pending -> running under a lease; a reaper moves a running
# run whose lease expired (or whose owner process is gone) back to pending.
PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
RUN_STATES = (PENDING, RUNNING, SUCCEEDED, FAILED)
# Flow-run rows end "completed", "failed", or "abandoned" (the flow was killed and its lease ran out).
ABANDONED = "abandoned"


class Video(Base):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source_uri: Mapped[str] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    probe: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    boundaries: Mapped[list[SceneBoundary]] = relationship(
        back_populates="video", cascade="all, delete-orphan", passive_deletes=True
    )


class SceneBoundary(Base):
    """One cut, in seconds. `detector` names the detector settings that produced it."""

    __tablename__ = "scene_boundaries"
    __table_args__ = (UniqueConstraint("video_id", "detector", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    detector: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    time_s: Mapped[float] = mapped_column(Float)

    video: Mapped[Video] = relationship(back_populates="boundaries")


class EmotionPrediction(Base):
    """Overall (scene_index = -1) or per-scene emotion of a video, for one model version.

    -1 rather than NULL for "overall" because NULLs never collide in a unique constraint.
    """

    __tablename__ = "emotion_predictions"
    __table_args__ = (
        UniqueConstraint("video_id", "model_name", "model_version", "detector", "scene_index"),
        Index("ix_emotion_predictions_model", "model_name", "model_version", "scene_index"),
        Index("ix_emotion_predictions_overall", "scene_index", "video_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(128))
    detector: Mapped[str] = mapped_column(String(128))
    scene_index: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    probs: Mapped[dict[str, Any]] = mapped_column(JSONType)
    valence: Mapped[float] = mapped_column(Float)
    arousal: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Catalog(Base):
    __tablename__ = "catalogs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # The music model (v1, v2) its backfills use; set by the first backfill, moved only by the operator
    # (`emsync catalog backfill NAME --music-model ...`), so a new default never re-renders a catalog.
    music_model: Mapped[str | None] = mapped_column(String(16))
    # The catalog's fixed sound (`emsync catalog backfill NAME --style ... --instruments ...`): a style
    # family and a palette as canonical text (emsync_models.music.controls); NULL: chosen per video.
    music_style: Mapped[str | None] = mapped_column(String(32))
    music_instruments: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogVideo(Base):
    """Membership. The same content may sit in many catalogs under different external ids."""

    __tablename__ = "catalog_videos"
    __table_args__ = (
        UniqueConstraint("catalog_id", "external_id"),
        Index("ix_catalog_videos_catalog_quarantined", "catalog_id", "quarantined_at"),
    )

    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id", ondelete="CASCADE"), primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True, index=True)
    external_id: Mapped[str | None] = mapped_column(String(400))
    source_uri: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bad-input failures of this video in a row (scoring or soundtrack; a success resets it). At the
    # EMSYNC_QUARANTINE_AFTER'th the video is quarantined: scheduled runs skip it until an operator
    # retries or replaces it. Outages (infra failures) never count.
    failure_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quarantine_reason: Mapped[str | None] = mapped_column(Text)


class FlowRunLink(Base):
    """One Prefect flow run that touched our data, with its summary once it ended."""

    __tablename__ = "flow_runs"
    __table_args__ = (Index("ix_flow_runs_flow_catalog_started", "flow_name", "catalog_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefect_flow_run_id: Mapped[str] = mapped_column(String(64), unique=True)
    flow_name: Mapped[str] = mapped_column(String(200))
    catalog_id: Mapped[int | None] = mapped_column(ForeignKey("catalogs.id", ondelete="SET NULL"), index=True)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(32), default=RUNNING)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Renewed while the flow runs; a running row whose lease expired (or whose owner process on this
    # host is gone) was abandoned by a killed flow.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GenerationRun(Base):
    """One soundtrack job: a video under one set of model versions and parameters.

    `run_key` is a hash of (content hash, model versions, parameters); it is what makes a re-run find
    the row it already wrote. Claims set `lease_owner` / `lease_expires_at`.
    """

    __tablename__ = "generation_runs"
    __table_args__ = (
        Index("ix_generation_runs_status_lease", "status", "lease_expires_at"),
        Index("ix_generation_runs_catalog_job_status", "catalog_id", "job_fp", "status"),
        Index("ix_generation_runs_queue", "status", "catalog_id", "job_fp", "lease_expires_at"),
        Index("ix_generation_runs_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Fingerprint of (model versions, parameters) alone: "the current job" a backfill claims within.
    job_fp: Mapped[str | None] = mapped_column(String(32), index=True)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    catalog_id: Mapped[int | None] = mapped_column(ForeignKey("catalogs.id", ondelete="SET NULL"), index=True)
    flow_run_id: Mapped[int | None] = mapped_column(ForeignKey("flow_runs.id", ondelete="SET NULL"), index=True)
    source_uri: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    error_kind: Mapped[str | None] = mapped_column(String(16))  # "input" (never retried) or "infra"
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    artifacts: Mapped[list[Artifact]] = relationship(back_populates="run", passive_deletes=True)


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("generation_runs.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(1024), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    run: Mapped[GenerationRun] = relationship(back_populates="artifacts")


class Failure(Base):
    """An append-only log of everything that went wrong: bad manifest rows, bad videos, outages."""

    __tablename__ = "failures"
    __table_args__ = (Index("ix_failures_catalog_stage_kind", "catalog_id", "stage", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(32))  # manifest | register | score | soundtrack
    subject: Mapped[str] = mapped_column(Text)  # the row, path or URI the reason is about
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="input")
    catalog_id: Mapped[int | None] = mapped_column(ForeignKey("catalogs.id", ondelete="CASCADE"), index=True)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("generation_runs.id", ondelete="CASCADE"))
    flow_run_id: Mapped[int | None] = mapped_column(ForeignKey("flow_runs.id", ondelete="SET NULL"))
    row_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
