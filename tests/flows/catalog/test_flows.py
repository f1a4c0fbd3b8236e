"""The catalog flows end to end with the real models, on the embedded defaults and on PostgreSQL + S3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Artifact, CatalogVideo, EmotionPrediction, Failure, FlowRunLink, GenerationRun, Video
from db.session import session_scope
from flows.catalog.flows import backfill, score_catalog, soundtrack_video
from flows.ops.outcome import CatalogRunFailed
from flows.ops.queries import catalog_status
from flows.settings import get_settings
from flows.storage.store import make_store, s3_store_from_settings
from tests.clips import make_clips

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _allow(monkeypatch: pytest.MonkeyPatch, *roots: Path) -> None:
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(r) for r in roots]))
    get_settings.cache_clear()


def _count(session, model, *where) -> int:  # noqa: ANN001
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_embedded_score_backfill_and_rerun(
    prefect_api: str, tiny_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clips = tiny_clips[:4]
    _allow(monkeypatch, clips[0].parent, tmp_path)
    (tmp_path / "notes.txt").write_text("not a video")
    manifest = tmp_path / "shows.csv"
    manifest.write_text(
        "uri,external_id,genre\n"
        + "".join(f"{p},ep-{i},drama\n" for i, p in enumerate(clips))
        + f"{clips[0]},ep-dup,drama\n"  # duplicate entry
        + "/etc/hostname,ep-x,none\n"  # outside the allowed roots
        + "ftp://host/v.mp4,ep-y,none\n"  # unsupported scheme
        + f"{tmp_path / 'gone.mp4'},ep-z,none\n"  # missing file
        + f"{tmp_path / 'notes.txt'},ep-t,none\n"  # not a video
        + "broken,row,with,extra\n"  # malformed
    )
    # Rejected rows fail the run in Prefect (over the default threshold); the summary rides on the error.
    with pytest.raises(CatalogRunFailed) as failed:
        score_catalog(str(manifest))
    scored = failed.value.summary
    assert (scored["registered"], scored["scored"], scored["rejected rows"]) == (4, 4, 6)
    assert {f["where"] for f in scored["failures"]} == {f"row {n}" for n in range(6, 12)}
    assert -1 <= scored["mean valence"] <= 1 and -1 <= scored["mean arousal"] <= 1

    url = get_settings().store.resolved_database_url
    with session_scope(url) as session:
        assert _count(session, CatalogVideo) == 4
        assert _count(session, EmotionPrediction, EmotionPrediction.scene_index == -1) == 4
        assert _count(session, Failure, Failure.stage.in_(("manifest", "register"))) == 6

    with pytest.raises(CatalogRunFailed) as failed_again:  # the same bad rows, reported again
        score_catalog(str(manifest))
    assert failed_again.value.summary["to score"] == 0, "scoring twice scores nothing new"

    done = backfill("shows")
    assert (done["processed"], done["succeeded"], done["remaining"]) == (4, 4, 0)
    rerun = backfill("shows")
    assert rerun["processed"] == 0 and rerun["total soundtracked"] == 4

    with session_scope(url) as session:
        assert _count(session, GenerationRun) == 4
        keys = set(session.execute(select(Artifact.object_key)).scalars())
        links = session.execute(select(FlowRunLink.flow_name)).scalars().all()
    assert sorted(make_store(get_settings()).list()) == sorted(keys), "no orphan objects"
    assert {"score-catalog", "backfill"} <= set(links)

    status = {row.name: row for row in catalog_status(url)}["shows"]
    assert (status.videos, status.scored, status.soundtracked, status.failed) == (4, 4, 4, 0)
    assert status.rejected == 6 and status.last_run is not None

    one = soundtrack_video(str(clips[0]))
    assert one["skipped"] and one["status"] == "succeeded" and set(one["artifacts"]) >= {"midi", "audio", "video"}


def test_fifty_video_manifest_scored_on_postgres_and_s3(
    prefect_api: str,
    production_env: dict[str, str],
    clip_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clips = make_clips(clip_dir, 50)
    _allow(monkeypatch, clip_dir)
    settings = get_settings()
    # Two of the fifty come from a bucket, by s3:// URI.
    source = s3_store_from_settings(settings, bucket=f"{settings.store.s3_bucket}-src")
    # Sources outside the configured bucket's input prefix must be allowed explicitly.
    monkeypatch.setenv("EMSYNC_ALLOWED_S3_SOURCES", json.dumps([f"s3://{source.bucket}/incoming/"]))
    get_settings.cache_clear()
    for clip in clips[:2]:
        source.put_file(f"incoming/{clip.name}", clip)
    uris = [f"s3://{source.bucket}/incoming/{c.name}" for c in clips[:2]] + [str(c) for c in clips[2:]]
    manifest = tmp_path / "fifty.jsonl"
    manifest.write_text("".join(json.dumps({"uri": u, "external_id": f"v{i}"}) + "\n" for i, u in enumerate(uris)))

    result = score_catalog(str(manifest))
    assert (result["registered"], result["scored"], result["score failures"]) == (50, 50, 0)
    with session_scope(settings.store.resolved_database_url) as session:
        assert _count(session, Video) == 50
        assert _count(session, EmotionPrediction, EmotionPrediction.scene_index == -1) == 50
        assert _count(session, Video, Video.source_uri.like("s3://%")) == 2
    assert score_catalog(None, "fifty")["to score"] == 0
