"""Per-member failure state: consecutive failures and quarantine, so ops can retry or skip a video.

New nullable/defaulted columns only: existing rows upgrade in place (streak 0, not quarantined) on both
SQLite (batch mode) and PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_videos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_streak", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("quarantine_reason", sa.Text(), nullable=True))
        batch_op.create_index("ix_catalog_videos_catalog_quarantined", ["catalog_id", "quarantined_at"])


def downgrade() -> None:
    with op.batch_alter_table("catalog_videos", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_videos_catalog_quarantined")
        batch_op.drop_column("quarantine_reason")
        batch_op.drop_column("quarantined_at")
        batch_op.drop_column("last_failure_at")
        batch_op.drop_column("failure_streak")
