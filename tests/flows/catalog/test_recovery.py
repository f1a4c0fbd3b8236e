"""Recovering failed catalog videos against a real metadata database (rows written as the flows write
them): failure streaks and automatic quarantine, retry, quarantine, replace, and the schema upgrade."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select, text

from db.models import CatalogVideo, GenerationRun
from db.session import downgrade, head_revision, make_engine, session_scope, upgrade
from emsync_models.errors import InputError
from flows.catalog import queries, recovery, work
from flows.ops.queries import catalog_status, failed_videos_outstanding, quarantined_per_catalog
from flows.settings import get_settings
from flows.storage.persist import record_failure

VERSIONS = {"cuts": "c1", "emotion": "e1", "music": "m1"}
PARAMS = {"seed": 1}


def _catalog(url: str) -> tuple[int, list[int]]:
    """Catalog "films": three members, vid-1 .. vid-3."""
    catalog_id = queries.ensure_catalog(url, "films")
    videos = []
    for i in range(1, 4):
        video_id, problem = queries.add_member(
            url, catalog_id=catalog_id, content_hash=f"{i:064x}", source_uri=f"/v/clip{i}.mp4", probe={},
            external_id=f"vid-{i}", metadata={},
        )
        assert problem is None
        videos.append(video_id)
    return catalog_id, videos


def _fail_score(url: str, catalog_id: int, video_id: int, kind: str = "input") -> None:
    queries.record_problem(url, stage="score", subject="/v/x.mp4", reason="not a video", kind=kind,
                           catalog_id=catalog_id, video_id=video_id)


def _member(url: str, catalog_id: int, external_id: str) -> CatalogVideo:
    with session_scope(url) as session:
        member = session.execute(select(CatalogVideo).where(
            CatalogVideo.catalog_id == catalog_id, CatalogVideo.external_id == external_id)).scalar_one()
        session.expunge(member)
        return member


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The metadata database: the embedded SQLite, and a fresh PostgreSQL one (integration)."""
    if request.param == "postgresql":
        monkeypatch.setenv("EMSYNC_DATABASE_URL", request.getfixturevalue("pg_url"))
    monkeypatch.setenv("EMSYNC_QUARANTINE_AFTER", "3")
    get_settings.cache_clear()
    url = get_settings().store.resolved_database_url
    make_engine(url)
    return url


def test_bad_input_in_a_row_quarantines_once_and_scheduled_runs_skip_it(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    catalog_id, (v1, v2, _v3) = _catalog(url)
    with caplog.at_level(logging.WARNING, logger="flows.catalog.recovery"):
        _fail_score(url, catalog_id, v1, kind="infra")  # an outage never counts
        _fail_score(url, catalog_id, v1)
        _fail_score(url, catalog_id, v1)
        assert _member(url, catalog_id, "vid-1").quarantined_at is None
        assert failed_videos_outstanding(url)[("films", "score")] == 1
        _fail_score(url, catalog_id, v1)  # the third bad-input failure in a row
        _fail_score(url, catalog_id, v1)  # (a run already under way may fail it once more)
    member = _member(url, catalog_id, "vid-1")
    assert member.quarantined_at is not None and member.failure_streak == 3
    assert "failed 3 times in a row; last: not a video" in (member.quarantine_reason or "")
    reports = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert reports == ["quarantined vid-1 in catalog films after 3 failures in a row (not a video); "
                       "`emsync catalog retry films --external-id vid-1` releases it"]

    # Scheduled work skips it: scoring, enqueueing and claiming; it is counted, not failed.
    assert v1 not in queries.videos_to_score(url, catalog_id, "m", "1", "d")
    counts = work.enqueue_missing(url, catalog_id, VERSIONS, PARAMS)
    assert counts["pending"] == 2
    claimed = {work.claim_next(url, catalog_id, _fp(), "w", 60).video_id for _ in range(2)}  # type: ignore[union-attr]
    assert claimed == {v2, _v3} and work.claim_next(url, catalog_id, _fp(), "w", 60) is None
    assert quarantined_per_catalog(url) == {"films": 1}
    assert ("films", "score") not in failed_videos_outstanding(url)
    (status,) = catalog_status(url)
    assert (status.quarantined, status.failed) == (1, 0)
    assert recovery.quarantined(url)[0]["video"] == "vid-1"


def _fp() -> str:
    from flows.storage.persist import job_fingerprint

    return job_fingerprint(VERSIONS, PARAMS)


def test_a_success_resets_the_streak(url: str) -> None:
    catalog_id, (v1, _, _) = _catalog(url)
    _fail_score(url, catalog_id, v1)
    _fail_score(url, catalog_id, v1)
    emotion = {"model_name": "m", "model_version": "1", "overall": {"probs": {"joy": 1.0}, "valence": 0.1,
                                                                     "arousal": 0.1, "confidence": 1.0}, "scenes": []}
    queries.record_scores(url, v1, "d", [], emotion)
    _fail_score(url, catalog_id, v1)
    member = _member(url, catalog_id, "vid-1")
    assert member.failure_streak == 1 and member.quarantined_at is None


def test_retry_releases_and_requeues_failed_videos(url: str) -> None:
    catalog_id, (v1, v2, _) = _catalog(url)
    work.enqueue_missing(url, catalog_id, VERSIONS, PARAMS)
    for video_id, n in ((v1, 1), (v2, 3)):  # vid-1 failed once; vid-2 three times (quarantined)
        claim = work.claim_next(url, catalog_id, _fp(), "w", 60)
        assert claim is not None and claim.video_id == video_id
        for _ in range(n):
            record_failure(get_settings(), source_uri=f"/v/clip{video_id}.mp4", content_hash=claim.content_hash,
                           params=PARAMS, model_versions=VERSIONS, error="bad frames", kind="input",
                           run_key=claim.run_key, catalog_id=catalog_id)
    assert failed_videos_outstanding(url)[("films", "soundtrack")] == 1  # vid-2 is quarantined, not outstanding
    assert _member(url, catalog_id, "vid-2").quarantined_at is not None
    # Input failures stay failed under a plain backfill: nothing would ever try them again.
    assert work.enqueue_missing(url, catalog_id, VERSIONS, PARAMS)["failed"] == 1

    with pytest.raises(InputError, match="name the catalog"):
        recovery.retry(url, None, ("vid-1",))
    with pytest.raises(InputError, match="no video with this external id"):
        recovery.retry(url, "films", ("vid-9",))
    (one,) = recovery.retry(url, "films", ("vid-1",))
    assert (one.video, one.detail) == ("vid-1", "was failed; 1 soundtrack run re-queued")
    everything = recovery.retry(url)
    assert [(h.video, h.detail) for h in everything] == [("vid-2", "was quarantined; 1 soundtrack run re-queued")]
    assert recovery.retry(url) == []  # idempotent: nothing left to retry
    assert work.job_counts(url, catalog_id, _fp())["pending"] == 3
    assert failed_videos_outstanding(url).get(("films", "soundtrack"), 0) == 0
    assert _member(url, catalog_id, "vid-2").failure_streak == 0


def test_operator_quarantine_and_replace(url: str, tmp_path: Path) -> None:
    catalog_id, (v1, v2, _) = _catalog(url)
    with pytest.raises(InputError, match="no such catalog"):
        recovery.quarantine(url, "nope", "vid-1")
    held = recovery.quarantine(url, "films", "vid-1", "rights expired")
    assert held.detail == "by an operator: rights expired"
    assert recovery.quarantine(url, "films", "vid-1").detail.startswith("already quarantined since")

    # Replacing vid-1's content: the member now holds the new video, quarantine and streak cleared.
    new = recovery.replace(url, "films", "vid-1", "f" * 64, "/v/clip1-fixed.mp4", {"duration_s": 1.0})
    assert (new.video, new.detail) == ("vid-1", "new content")
    member = _member(url, catalog_id, "vid-1")
    assert member.video_id != v1 and member.source_uri == "/v/clip1-fixed.mp4" and member.quarantined_at is None
    # The new content gets its own run from the next backfill; the old content is no member any more.
    work.enqueue_missing(url, catalog_id, VERSIONS, PARAMS)
    with session_scope(url) as session:
        videos = set(session.execute(select(GenerationRun.video_id)).scalars())
    assert member.video_id in videos and v1 not in videos
    # Content that is another member's already is refused, and nothing changes.
    with session_scope(url) as session:
        other_hash = session.execute(text("SELECT content_hash FROM videos WHERE id = :i"), {"i": v2}).scalar_one()
    with pytest.raises(InputError, match="already in the catalog as vid-2"):
        recovery.replace(url, "films", "vid-1", other_hash, "/v/clip2.mp4", {})
    assert _member(url, catalog_id, "vid-1").video_id == member.video_id


def test_upgrade_keeps_existing_members(tmp_path: Path) -> None:
    """A database at the previous revision, with members, upgrades in place: streak 0, not quarantined."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    with make_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO catalogs (id, name, created_at) VALUES (1, 'films', '2026-01-01')"))
        conn.execute(text("INSERT INTO videos (id, content_hash, source_uri, created_at) "
                          "VALUES (7, :h, '/v/a.mp4', '2026-01-01')"), {"h": "a" * 64})
        conn.execute(text("INSERT INTO catalog_videos (catalog_id, video_id, external_id, source_uri, added_at) "
                          "VALUES (1, 7, 'vid-7', '/v/a.mp4', '2026-01-01')"))
    assert upgrade(url) == head_revision()
    member = _member(url, 1, "vid-7")
    assert (member.failure_streak, member.quarantined_at, member.video_id) == (0, None, 7)
    # And back down, keeping the members: SQLite's table rebuilds must not cascade-delete them.
    assert downgrade(url, "0003") == "0003"
    with make_engine(url).connect() as conn:
        assert conn.execute(text("SELECT external_id FROM catalog_videos")).scalar_one() == "vid-7"


def test_cli_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import json

    from rich.console import Console
    from typer.testing import CliRunner

    from flows.cli import catalog as cli_catalog
    from flows.cli.app import app

    monkeypatch.setattr(cli_catalog, "out", Console(width=200))
    url = get_settings().store.resolved_database_url
    make_engine(url)
    catalog_id, (v1, _, _) = _catalog(url)
    _fail_score(url, catalog_id, v1)
    runner = CliRunner()

    result = runner.invoke(app, ["catalog", "quarantine", "films", "vid-2", "--reason", "rights expired"])
    assert result.exit_code == 0, result.output
    assert "vid-2" in result.output and "by an operator: rights expired" in result.output
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "quarantined videos" in result.output and "rights expired" in result.output
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert [q["video"] for q in status["quarantined"]] == ["vid-2"]

    result = runner.invoke(app, ["catalog", "retry", "films", "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(v["video"] for v in json.loads(result.stdout)["videos"]) == ["vid-1", "vid-2"]
    result = runner.invoke(app, ["catalog", "retry", "films", "-e", "vid-9"])
    assert result.exit_code == 2 and "vid-9" in result.output and "Traceback" not in result.output

    fixed = tmp_path / "fixed.mp4"
    from tests.media import make_clip

    make_clip(fixed, seconds=1.0, size="64x48", fps=10, audio=False)
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(tmp_path)]))
    get_settings.cache_clear()
    result = runner.invoke(app, ["catalog", "replace", "films", "vid-3", str(fixed)])
    assert result.exit_code == 0, result.output
    assert "new content" in result.output
    assert _member(url, catalog_id, "vid-3").source_uri == str(fixed)
