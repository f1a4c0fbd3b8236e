"""Check that every stored artifact row still has its object, with the size and SHA-256 the row records.

An object store can lose objects behind our back (a wiped bucket, a lifecycle rule, a restore from an
older backup). Rows that point at nothing would keep counting as soundtracked and no re-run would redo
them, so `verify` compares rows with objects and, with `repair`, marks each affected run failed (an
infrastructure failure): the next backfill or `soundtrack-video` claims it again and re-uploads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from db.models import FAILED, SUCCEEDED, Artifact, CatalogVideo, Failure, GenerationRun, utcnow
from db.session import session_scope
from flows.storage.store import ObjectStore, make_store

if TYPE_CHECKING:
    from flows.settings import Settings

BATCH = 500


@dataclass(frozen=True)
class ObjectProblem:
    run_id: int
    video_id: int
    kind: str
    key: str
    problem: str  # missing | size differs | checksum differs


@dataclass
class VerifyResult:
    checked: int = 0
    problems: list[ObjectProblem] = field(default_factory=list)
    runs_marked: int = 0

    @property
    def broken_runs(self) -> set[int]:
        return {p.run_id for p in self.problems}


def object_problem(store: ObjectStore, key: str, size: int, sha256: str) -> str | None:
    """What is wrong with the object a row describes, or None when it is there as recorded."""
    stored = store.stat(key)
    if stored is None:
        return "missing"
    if stored.size != size:
        return f"size differs (row {size} bytes, store {stored.size})"
    if stored.sha256 and stored.sha256 != sha256:
        return f"checksum differs (row {sha256[:12]}..., store {stored.sha256[:12]}...)"
    if not stored.sha256:
        return "no SHA-256 recorded on the object"
    return None


def verify_artifacts(settings: Settings, catalog_id: int | None = None, repair: bool = False) -> VerifyResult:
    """Compare the artifact rows of succeeded runs (of one catalog, or all) with the object store."""
    url = settings.store.resolved_database_url
    store = make_store(settings)
    result = VerifyResult()
    last_id = 0
    while True:
        with session_scope(url) as session:
            query = (
                select(Artifact.id, Artifact.run_id, Artifact.video_id, Artifact.kind, Artifact.object_key,
                       Artifact.size_bytes, Artifact.sha256)
                .join(GenerationRun, GenerationRun.id == Artifact.run_id)
                .where(Artifact.id > last_id, GenerationRun.status == SUCCEEDED)
                .order_by(Artifact.id)
                .limit(BATCH)
            )
            if catalog_id is not None:
                members = select(CatalogVideo.video_id).where(CatalogVideo.catalog_id == catalog_id)
                query = query.where(Artifact.video_id.in_(members))
            rows = session.execute(query).all()
        if not rows:
            break
        last_id = rows[-1][0]
        for _, run_id, video_id, kind, key, size, sha in rows:
            result.checked += 1
            problem = object_problem(store, key, int(size), sha)
            if problem is not None:
                result.problems.append(ObjectProblem(int(run_id), int(video_id), kind, key, problem))
    if repair and result.problems:
        result.runs_marked = mark_runs_for_redo(url, result.problems, catalog_id)
    return result


def mark_runs_for_redo(url: str, problems: list[ObjectProblem], catalog_id: int | None) -> int:
    """Mark the runs whose objects are gone or changed failed (infra), so the next backfill redoes them."""
    by_run: dict[int, list[ObjectProblem]] = {}
    for p in problems:
        by_run.setdefault(p.run_id, []).append(p)
    marked = 0
    with session_scope(url) as session:
        for run_id, found in sorted(by_run.items()):
            run = session.get(GenerationRun, run_id)
            if run is None or run.status != SUCCEEDED:
                continue
            reason = "stored objects lost: " + "; ".join(f"{p.kind} {p.problem}" for p in found)
            run.status, run.error_kind, run.error, run.finished_at = FAILED, "infra", reason, utcnow()
            session.add(
                Failure(stage="verify", subject=run.source_uri, reason=reason, kind="infra",
                        catalog_id=catalog_id or run.catalog_id, video_id=run.video_id, run_id=run.id)
            )
            marked += 1
    return marked
