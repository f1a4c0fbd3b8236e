"""The database work queue: one claim per run, leases, and the reaper, on both dialects."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from db.models import GenerationRun, utcnow
from db.session import session_scope
from flows.catalog import queries, work
from flows.settings import get_settings

VERSIONS = {"music": "m1", "emotion": "e1"}
PARAMS = {"seed": 0}


def _catalog(url: str, n: int) -> int:
    catalog_id = queries.ensure_catalog(url, "queue-test")
    for i in range(n):
        queries.add_member(
            url,
            catalog_id=catalog_id,
            content_hash=f"{i:064x}",
            source_uri=f"/v/{i}.mp4",
            probe={"duration_s": 3.0},
            external_id=None,
            metadata={},
        )
    return catalog_id


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return get_settings().store.resolved_database_url


def test_concurrent_claims_never_overlap(url: str) -> None:
    catalog_id = _catalog(url, 12)
    counts = work.enqueue_missing(url, catalog_id, VERSIONS, PARAMS)
    assert counts["pending"] == 12
    assert work.enqueue_missing(url, catalog_id, VERSIONS, PARAMS)["pending"] == 12, "enqueue is idempotent"
    fp = work.job_fingerprint(VERSIONS, PARAMS)
    claimed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        owner = work.new_owner()
        while (claim := work.claim_next(url, catalog_id, fp, owner, 60)) is not None:
            with lock:
                claimed.append(claim.run_id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 12
    assert work.job_counts(url, catalog_id, fp)["running"] == 12


def test_reaper_reclaims_dead_owners_and_expired_leases(url: str) -> None:
    catalog_id = _catalog(url, 3)
    work.enqueue_missing(url, catalog_id, VERSIONS, PARAMS)
    fp = work.job_fingerprint(VERSIONS, PARAMS)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_owner = f"{work.HOST}:{int(dead.stdout)}:deadbeef"
    live_owner = work.new_owner()
    a = work.claim_next(url, catalog_id, fp, dead_owner, 600)  # owner process is gone
    b = work.claim_next(url, catalog_id, fp, "other-host:1:x", 600)  # alive as far as we can tell
    c = work.claim_next(url, catalog_id, fp, live_owner, 600)
    assert a and b and c
    assert work.reap(url) == 1
    with session_scope(url) as session:  # the other host's lease runs out
        session.execute(
            update(GenerationRun)
            .where(GenerationRun.id == b.run_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert work.reap(url) == 1
    assert work.renew(url, c.run_id, live_owner, 600) and not work.renew(url, a.run_id, dead_owner, 600)
    with session_scope(url) as session:
        states = dict(session.execute(select(GenerationRun.id, GenerationRun.status)).all())
    assert states == {a.run_id: "pending", b.run_id: "pending", c.run_id: "running"}
