"""Initial schema: videos, boundaries, emotions, catalogs, runs, artifacts, failures, flow runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 08:29:32.230442
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogs")),
        sa.UniqueConstraint("name", name=op.f("uq_catalogs_name")),
    )
    op.create_table(
        "videos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("probe", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_videos")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_videos_content_hash")),
    )
    op.create_table(
        "catalog_videos",
        sa.Column("catalog_id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=400), nullable=True),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("metadata", JSON, nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_id"],
            ["catalogs.id"],
            name=op.f("fk_catalog_videos_catalog_id_catalogs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_catalog_videos_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("catalog_id", "video_id", name=op.f("pk_catalog_videos")),
        sa.UniqueConstraint("catalog_id", "external_id", name=op.f("uq_catalog_videos_catalog_id")),
    )
    with op.batch_alter_table("catalog_videos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_videos_video_id"), ["video_id"], unique=False)

    op.create_table(
        "emotion_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("detector", sa.String(length=128), nullable=False),
        sa.Column("scene_index", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("probs", JSON, nullable=False),
        sa.Column("valence", sa.Float(), nullable=False),
        sa.Column("arousal", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name=op.f("fk_emotion_predictions_video_id_videos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emotion_predictions")),
        sa.UniqueConstraint(
            "video_id",
            "model_name",
            "model_version",
            "detector",
            "scene_index",
            name=op.f("uq_emotion_predictions_video_id"),
        ),
    )
    with op.batch_alter_table("emotion_predictions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_emotion_predictions_model", ["model_name", "model_version", "scene_index"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_emotion_predictions_video_id"), ["video_id"], unique=False)

    op.create_table(
        "flow_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefect_flow_run_id", sa.String(length=64), nullable=False),
        sa.Column("flow_name", sa.String(length=200), nullable=False),
        sa.Column("catalog_id", sa.Integer(), nullable=True),
        sa.Column("parameters", JSON, nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("summary", JSON, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["catalog_id"],
            ["catalogs.id"],
            name=op.f("fk_flow_runs_catalog_id_catalogs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
        sa.UniqueConstraint("prefect_flow_run_id", name=op.f("uq_flow_runs_prefect_flow_run_id")),
    )
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_runs_catalog_id"), ["catalog_id"], unique=False)

    op.create_table(
        "scene_boundaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("detector", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("time_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_scene_boundaries_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scene_boundaries")),
        sa.UniqueConstraint("video_id", "detector", "position", name=op.f("uq_scene_boundaries_video_id")),
    )
    with op.batch_alter_table("scene_boundaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scene_boundaries_video_id"), ["video_id"], unique=False)

    op.create_table(
        "generation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=64), nullable=False),
        sa.Column("job_fp", sa.String(length=32), nullable=True),
        sa.Column("video_id", sa.Integer(), nullable=True),
        sa.Column("catalog_id", sa.Integer(), nullable=True),
        sa.Column("flow_run_id", sa.Integer(), nullable=True),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("model_versions", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_kind", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("timings", JSON, nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["catalog_id"],
            ["catalogs.id"],
            name=op.f("fk_generation_runs_catalog_id_catalogs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_generation_runs_flow_run_id_flow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_generation_runs_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_generation_runs_run_key")),
    )
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generation_runs_catalog_id"), ["catalog_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_generation_runs_flow_run_id"), ["flow_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_generation_runs_job_fp"), ["job_fp"], unique=False)
        batch_op.create_index("ix_generation_runs_status_lease", ["status", "lease_expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_generation_runs_video_id"), ["video_id"], unique=False)

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["generation_runs.id"],
            name=op.f("fk_artifacts_run_id_generation_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_artifacts_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
        sa.UniqueConstraint("object_key", name=op.f("uq_artifacts_object_key")),
        sa.UniqueConstraint("run_id", "kind", name=op.f("uq_artifacts_run_id")),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifacts_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_artifacts_video_id"), ["video_id"], unique=False)

    op.create_table(
        "failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("catalog_id", sa.Integer(), nullable=True),
        sa.Column("video_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("flow_run_id", sa.Integer(), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_id"], ["catalogs.id"], name=op.f("fk_failures_catalog_id_catalogs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_failures_flow_run_id_flow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["generation_runs.id"],
            name=op.f("fk_failures_run_id_generation_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_failures_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failures")),
    )
    with op.batch_alter_table("failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_failures_catalog_id"), ["catalog_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_failures_video_id"), ["video_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_failures_video_id"))
        batch_op.drop_index(batch_op.f("ix_failures_catalog_id"))

    op.drop_table("failures")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifacts_video_id"))
        batch_op.drop_index(batch_op.f("ix_artifacts_run_id"))

    op.drop_table("artifacts")
    with op.batch_alter_table("generation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_runs_video_id"))
        batch_op.drop_index("ix_generation_runs_status_lease")
        batch_op.drop_index(batch_op.f("ix_generation_runs_job_fp"))
        batch_op.drop_index(batch_op.f("ix_generation_runs_flow_run_id"))
        batch_op.drop_index(batch_op.f("ix_generation_runs_catalog_id"))

    op.drop_table("generation_runs")
    with op.batch_alter_table("scene_boundaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scene_boundaries_video_id"))

    op.drop_table("scene_boundaries")
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_runs_catalog_id"))

    op.drop_table("flow_runs")
    with op.batch_alter_table("emotion_predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emotion_predictions_video_id"))
        batch_op.drop_index("ix_emotion_predictions_model")

    op.drop_table("emotion_predictions")
    with op.batch_alter_table("catalog_videos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_videos_video_id"))

    op.drop_table("catalog_videos")
    op.drop_table("videos")
    op.drop_table("catalogs")
