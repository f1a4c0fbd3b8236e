"""A catalog remembers the music model its soundtracks are made with (v1, v2; NULL: not yet backfilled).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for catalogs made before the pin: the first backfill after this reads the model from the
    # catalog's own soundtracks (flows.catalog.pinning), so a default change never re-renders them.
    with op.batch_alter_table("catalogs") as batch:
        batch.add_column(sa.Column("music_model", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalogs") as batch:
        batch.drop_column("music_model")
