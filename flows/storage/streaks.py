"""A catalog member's run of bad-input failures: counted per failure, reset by a success, and the
member quarantined when the run reaches the setting. Kept with storage, which records both outcomes;
the operator commands around it live in flows.catalog.recovery."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from db.models import Catalog, CatalogVideo, utcnow

log = logging.getLogger("flows.catalog.recovery")  # the operator's log: where quarantines were always reported


def display_name(external_id: str | None, source_uri: str) -> str:
    """How an operator knows a video: its external id, else its file name."""
    return external_id or Path(source_uri.rstrip("/")).name or source_uri


def note_failure(session: Session, catalog_id: int | None, video_id: int | None, reason: str,
                 quarantine_after: int) -> bool:
    """Count one bad-input failure of a member video; True when this one quarantined it."""
    if catalog_id is None or video_id is None:
        return False
    member = session.get(CatalogVideo, (catalog_id, video_id))
    if member is None or member.quarantined_at is not None:
        return False
    now = utcnow()
    member.failure_streak = (member.failure_streak or 0) + 1
    member.last_failure_at = now
    if quarantine_after <= 0 or member.failure_streak < quarantine_after:
        return False
    member.quarantined_at = now
    member.quarantine_reason = f"failed {member.failure_streak} times in a row; last: {reason}"[:2000]
    catalog = session.get(Catalog, catalog_id)
    # Reported once: from now on scheduled runs skip the video, so it cannot fail (or be reported) again.
    log.warning(
        "quarantined %s in catalog %s after %d failures in a row (%s); `emsync catalog retry %s --external-id "
        "%s` releases it",
        display_name(member.external_id, member.source_uri), catalog.name if catalog else catalog_id,
        member.failure_streak, reason, catalog.name if catalog else catalog_id,
        member.external_id or member.source_uri,
    )
    return True


def note_success(session: Session, video_id: int | None) -> None:
    """A stage succeeded on this content: its streak starts again in every catalog that holds it."""
    if video_id is None:
        return
    session.execute(
        update(CatalogVideo)
        .where(CatalogVideo.video_id == video_id, CatalogVideo.failure_streak != 0)
        .values(failure_streak=0)
    )
