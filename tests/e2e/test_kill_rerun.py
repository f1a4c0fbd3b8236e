"""A backfill killed with SIGKILL halfway, then re-run: every video done exactly once, no duplicate rows,
no orphan objects — checked by querying the database and listing the bucket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Artifact, GenerationRun
from db.session import session_scope
from emsync_models.music import registry
from flows.catalog.flows import backfill, ingest_catalog
from flows.catalog.identity import current_job
from flows.settings import get_settings
from flows.storage.store import make_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CHILD = ("import json, sys; from flows.catalog.flows import backfill; "
         "print(json.dumps(backfill(sys.argv[1]), default=str))")


def _succeeded(url: str) -> int:
    with session_scope(url) as session:
        return session.execute(
            select(func.count()).select_from(GenerationRun).where(GenerationRun.status == "succeeded")
        ).scalar_one()


def _kill_halfway_then_rerun(clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(clips[0].parent)]))
    monkeypatch.setenv("EMSYNC_CONCURRENCY", "2")
    # Pin the music model to a copy: its version is the file's hash, and the killed child and this
    # process must agree on it even if the checkpoint is rewritten meanwhile (e.g. by a training run).
    pinned = tmp_path / "music.pt"
    models = get_settings().models
    shutil.copyfile(models.music_checkpoint or registry.spec(models.music_model).checkpoint, pinned)
    monkeypatch.setenv("EMSYNC_MUSIC_CHECKPOINT", str(pinned))
    get_settings.cache_clear()
    settings = get_settings()
    url = settings.store.resolved_database_url
    manifest = tmp_path / "killme.csv"
    manifest.write_text("uri\n" + "".join(f"{c}\n" for c in clips))
    assert ingest_catalog(str(manifest))["registered"] == len(clips)
    half = len(clips) // 2

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "killme"],
        cwd=REPO,
        env=dict(os.environ),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 240
    try:
        while _succeeded(url) < half:
            assert child.poll() is None, f"backfill ended before the kill: {child.stdout.read()[-3000:]!r}"
            assert time.monotonic() < deadline, "backfill made no progress"
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the whole group: the flow and anything it started
        child.wait()  # reap it, or the reaper would see a zombie pid as alive

    done_before = _succeeded(url)
    with session_scope(url) as session:
        in_flight = session.execute(
            select(func.count()).select_from(GenerationRun).where(GenerationRun.status == "running")
        ).scalar_one()
    assert half <= done_before < len(clips), "the kill must land halfway"

    rerun = backfill("killme")

    job = current_job(settings)
    with session_scope(url) as session:
        runs = session.execute(select(GenerationRun).where(GenerationRun.job_fp == job.fingerprint)).scalars().all()
        artifacts = session.execute(select(Artifact.object_key, Artifact.run_id)).all()
    keys = [k for k, _ in artifacts]
    listed = make_store(settings).list()
    counts = {
        "videos": len(clips),
        "succeeded_before_kill": done_before,
        "running_at_kill": in_flight,
        "rerun_processed": rerun["processed"],
        "rerun_reclaimed": rerun["reclaimed"],
        "run_rows": len(runs),
        "distinct_videos": len({r.video_id for r in runs}),
        "succeeded_rows": sum(r.status == "succeeded" for r in runs),
        "artifact_rows": len(keys),
        "distinct_keys": len(set(keys)),
        "objects_in_bucket": len(listed),
        "attempts": sorted(r.attempts for r in runs),
    }
    print("kill-and-rerun counts:", json.dumps(counts))
    assert rerun["processed"] == len(clips) - done_before, "each remaining video exactly once"
    assert rerun["failed"] == 0 and rerun["remaining"] == 0
    assert len(runs) == len(clips) == counts["distinct_videos"] == counts["succeeded_rows"]
    kinds = len(keys) // len(clips)
    assert kinds >= 4 and len(keys) == kinds * len(clips) == len(set(keys))
    assert sorted(listed) == sorted(keys), "the bucket holds exactly the recorded objects: no orphans"
    # Videos finished before the kill ran once; only the ones cut off mid-flight ran twice.
    assert sum(a == 2 for a in counts["attempts"]) == in_flight
    assert max(counts["attempts"]) <= 2
    return counts


def test_kill_and_rerun_on_postgres_and_s3(
    prefect_api: str,
    production_env: dict[str, str],
    tiny_clips: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _kill_halfway_then_rerun(tiny_clips, tmp_path, monkeypatch)


def test_kill_and_rerun_embedded(
    prefect_api: str, tiny_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kill_halfway_then_rerun(tiny_clips[:4], tmp_path, monkeypatch)
