"""Indexes for the ops read side (metrics exporter, status, dashboard): each scrape groups over an index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 18:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    # runs by catalog, job and status (videos by state, throughput counters): an index-only scan
    ("ix_generation_runs_catalog_job_status", "generation_runs", ["catalog_id", "job_fp", "status"]),
    # queue depth: pending/running runs only, grouped by catalog and job, live lease counted
    ("ix_generation_runs_queue", "generation_runs", ["status", "catalog_id", "job_fp", "lease_expires_at"]),
    # stage-time histograms and throughput: runs finished since a watermark
    ("ix_generation_runs_finished_at", "generation_runs", ["finished_at"]),
    # failures by catalog, stage and kind
    ("ix_failures_catalog_stage_kind", "failures", ["catalog_id", "stage", "kind"]),
    # scored videos and emotion distribution: overall predictions by video
    ("ix_emotion_predictions_overall", "emotion_predictions", ["scene_index", "video_id"]),
    # the latest run of each flow per catalog (missed-schedule alert)
    ("ix_flow_runs_flow_catalog_started", "flow_runs", ["flow_name", "catalog_id", "started_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
