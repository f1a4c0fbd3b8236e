"""A catalog may fix its sound: a style family and an instrument palette (NULL: chosen per video).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for every catalog made before: its backfills keep choosing from each video's valence/arousal,
    # so their job identities (and stored soundtracks) stay what they were.
    with op.batch_alter_table("catalogs") as batch:
        batch.add_column(sa.Column("music_style", sa.String(32), nullable=True))
        batch.add_column(sa.Column("music_instruments", sa.String(1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalogs") as batch:
        batch.drop_column("music_instruments")
        batch.drop_column("music_style")
