"""A backfill records each failed video once: one failed run row and one failure-log line per video."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

import flows.catalog.backfilling as backfilling
import flows.soundtrack as soundtrack
from db.models import Failure, GenerationRun
from db.session import session_scope
from emsync_models.music import registry
from emsync_models.video.probe import VideoProbe
from flows.catalog.flows import backfill, ingest_catalog
from flows.catalog.identity import current_job
from flows.catalog.tasks import INFRA_RETRIES
from flows.ops.outcome import CatalogRunFailed
from flows.settings import Settings, get_settings
from tests.clips import make_clips

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _runs(url: str) -> dict[str, list[tuple[str, str | None, int, str]]]:
    """Every run row, as (status, error kind, attempts, job fingerprint), by the file name it soundtracks."""
    by_name: dict[str, list[tuple[str, str | None, int, str]]] = {}
    with session_scope(url) as session:
        for run in session.execute(select(GenerationRun).order_by(GenerationRun.id)).scalars():
            by_name.setdefault(Path(run.source_uri).name, []).append(
                (run.status, run.error_kind, run.attempts, run.job_fp)
            )
    return by_name


def _failure_log(url: str) -> list[tuple[int, str, str, str, int | None]]:
    """The soundtrack stage's failure log: (id, file name, kind, reason, run id)."""
    with session_scope(url) as session:
        rows = session.execute(select(Failure).where(Failure.stage == "soundtrack").order_by(Failure.id)).scalars()
        return [(f.id, Path(f.subject).name, f.kind, f.reason, f.run_id) for f in rows]


def test_backfill_records_each_failed_video_once(
    prefect_api: str, clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pins de0453c: process_claim owns the run row, so run_soundtrack must not record a second, stray failure."""
    videos = tmp_path / "videos"
    videos.mkdir()
    names = ("good.mp4", "bad.mp4", "flaky.mp4")
    good, bad, flaky = (
        Path(shutil.copyfile(clip, videos / name)) for clip, name in zip(make_clips(clip_dir, 3), names, strict=True)
    )
    # The music model's version is its checkpoint's hash: pin a copy, so a training run rewriting the
    # checkpoint cannot change the job's identity mid-test (process_claim would call that drift an error).
    pinned = tmp_path / "music.pt"
    models = get_settings().models
    shutil.copyfile(models.music_checkpoint or registry.spec(models.music_model).checkpoint, pinned)
    monkeypatch.setenv("EMSYNC_MUSIC_CHECKPOINT", str(pinned))
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(videos)]))
    monkeypatch.setenv("EMSYNC_CONCURRENCY", "1")
    get_settings.cache_clear()
    settings = get_settings()
    url = settings.store.resolved_database_url
    manifest = tmp_path / "mixed.csv"
    manifest.write_text("uri\n" + "".join(f"{p}\n" for p in (good, bad, flaky)))
    assert ingest_catalog(str(manifest))["registered"] == 3

    # Bad input: the registered file is truncated to zero bytes before the backfill reads it.
    bad.write_bytes(b"")
    # An infrastructure failure past validation, for one video only: its cut detector crashes on every
    # try. This is the path run_soundtrack used to record by itself, under a key without model versions,
    # once per Prefect retry, beside the backfill's own record of the claimed run.
    real_decode_pass = soundtrack.decode_pass
    crashes: list[Path] = []
    outage = True

    def decode_pass_or_crash(path: Path, probe: VideoProbe, config: Settings, analyzer: object = None) -> object:
        if outage and path.resolve() == flaky.resolve():
            crashes.append(path)
            raise RuntimeError("cut detector crashed")
        return real_decode_pass(path, probe, config, analyzer)

    monkeypatch.setattr(soundtrack, "decode_pass", decode_pass_or_crash)
    # Keep the real retries (each one re-runs the job), without their exponential waits.
    monkeypatch.setattr(
        backfilling, "soundtrack_claimed_video",
        backfilling.soundtrack_claimed_video.with_options(retry_delay_seconds=0)
    )

    with pytest.raises(CatalogRunFailed, match="backfill mixed: 2 of 3 videos failed") as failed:
        backfill("mixed")
    done = failed.value.summary
    assert (done["processed"], done["succeeded"], done["failed"], done["remaining"]) == (3, 1, 2, 0)
    assert len(crashes) == 1 + INFRA_RETRIES, "the infrastructure failure was retried"
    job = current_job(settings).fingerprint
    assert _runs(url) == {
        "good.mp4": [("succeeded", None, 1, job)],
        "bad.mp4": [("failed", "input", 1, job)],
        "flaky.mp4": [("failed", "infra", 1, job)],  # one attempt claimed, however often Prefect retried it
    }, "exactly one run row per video, all under the claimed job: no stray failed row"
    log = _failure_log(url)
    assert Counter((name, kind) for _, name, kind, _, _ in log) == {("bad.mp4", "input"): 1, ("flaky.mp4", "infra"): 1}
    with session_scope(url) as session:
        claimed = dict(session.execute(select(GenerationRun.id, GenerationRun.source_uri)).all())
    assert {Path(claimed[run_id]).name for *_, run_id in log} == {"bad.mp4", "flaky.mp4"}
    assert "content changed since it was registered" in next(r for _, n, _, r, _ in log if n == "bad.mp4")

    # The outage is over. A re-run retries the infrastructure failure (enqueue_missing puts it back to
    # pending) and leaves the bad input failed (retrying cannot help): one video processed, and the
    # failure log does not grow.
    outage = False
    rerun = backfill("mixed")
    assert (rerun["processed"], rerun["succeeded"], rerun["failed"]) == (1, 1, 0)
    assert (rerun["remaining"], rerun["total soundtracked"]) == (0, 2)
    assert _runs(url) == {
        "good.mp4": [("succeeded", None, 1, job)],
        "bad.mp4": [("failed", "input", 1, job)],
        "flaky.mp4": [("succeeded", None, 2, job)],
    }
    assert _failure_log(url) == log, "a re-run adds no failure-log lines"
