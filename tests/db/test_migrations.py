"""Schema and migrations on both dialects; idempotent recording of results and failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from db.models import Artifact, Base, EmotionPrediction, Failure, GenerationRun, SceneBoundary, Video
from db.session import head_revision, make_engine, session_scope, upgrade
from flows.settings import get_settings
from flows.storage.persist import record_failure, record_soundtrack
from flows.storage.store import make_store

EMOTION = {
    "model_name": "test-head",
    "model_version": "v1",
    "overall": {
        "probs": {"joy": 0.5, "sadness": 0.1, "anger": 0.1, "fear": 0.1, "surprise": 0.1, "disgust": 0.1},
        "valence": 0.4,
        "arousal": 0.2,
        "confidence": 0.5,
    },
    "scenes": [
        {"start_s": 0.0, "end_s": 1.5, "probs": {"joy": 1.0}, "valence": 0.6, "arousal": 0.1, "confidence": 0.9},
        {"start_s": 1.5, "end_s": 3.0, "probs": {"fear": 1.0}, "valence": -0.5, "arousal": 0.7, "confidence": 0.8},
    ],
}


def _schema_matches(url: str) -> None:
    assert upgrade(url) == head_revision()
    with make_engine(url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert upgrade(url) == head_revision(), "upgrading twice is a no-op"


def test_sqlite_is_created_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'emsync.db'}"
    with session_scope(url) as session:  # no explicit upgrade: first use migrates
        assert session.execute(select(func.count()).select_from(Video)).scalar_one() == 0
    _schema_matches(url)


def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fk.db'}"
    with pytest.raises(IntegrityError), session_scope(url) as session:
        session.add(SceneBoundary(video_id=999, detector="d", position=0, time_s=1.0))


@pytest.mark.integration
def test_postgres_migrations(pg_url: str) -> None:
    _schema_matches(pg_url)
    with make_engine(pg_url).connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT data_type FROM information_schema.columns WHERE table_name='videos' AND column_name='probe'"
                )
            ).scalar_one()
            == "jsonb"
        )


def _artifacts(tmp_path: Path) -> dict[str, Path]:
    files = {"midi": tmp_path / "s.mid", "audio": tmp_path / "s.wav", "report": tmp_path / "r.json"}
    for kind, path in files.items():
        path.write_bytes(kind.encode() * 100)
    return files


def _record(tmp_path: Path) -> dict[str, str]:
    return record_soundtrack(
        get_settings(),
        source_uri="/videos/a.mp4",
        content_hash="b" * 64,
        probe={"duration_s": 3.0, "fps": 10.0, "width": 64, "height": 48, "size_bytes": 1234},
        cuts_s=[1.5],
        emotion=EMOTION,
        params={"seed": 3},
        model_versions={"music": "m1", "emotion": "v1"},
        timings={"music": 1.0},
        artifacts=_artifacts(tmp_path),
    )


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        return {
            m.__name__: session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Video, SceneBoundary, EmotionPrediction, GenerationRun, Artifact, Failure)
        }


@pytest.mark.parametrize("backend", ["embedded", pytest.param("production", marks=pytest.mark.integration)])
def test_record_soundtrack_is_idempotent(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if backend == "production":
        request.getfixturevalue("production_env")
    url = get_settings().store.resolved_database_url
    keys = _record(tmp_path)
    first = _counts(url)
    assert first == {
        "Video": 1,
        "SceneBoundary": 1,
        "EmotionPrediction": 3,
        "GenerationRun": 1,
        "Artifact": 3,
        "Failure": 0,
    }
    assert _record(tmp_path) == keys
    assert _counts(url) == first, "re-recording the same job must not add rows"
    store = make_store(get_settings())
    assert sorted(store.list()) == sorted(keys.values())
    with session_scope(url) as session:
        timings = session.execute(select(GenerationRun.timings)).scalar_one()
    # The object store's own time is recorded with the run, beside the stages the caller timed.
    assert timings["music"] == 1.0 and timings["store"] >= 0.0

    # A later failure of the same job is logged but leaves the finished run alone.
    record_failure(
        get_settings(),
        source_uri="/videos/a.mp4",
        content_hash="b" * 64,
        params={"seed": 3},
        model_versions={"music": "m1", "emotion": "v1"},
        error="boom",
        kind="infra",
    )
    with session_scope(url) as session:
        run = session.execute(select(GenerationRun)).scalar_one()
        assert run.status == "succeeded" and run.error is None
        assert session.execute(select(func.count()).select_from(Failure)).scalar_one() == 1
    # A failure before anything was known about the file: a failed run, no video row.
    record_failure(
        get_settings(),
        source_uri="/videos/broken.mp4",
        content_hash=None,
        params={"seed": 3},
        error="/videos/broken.mp4: not a readable video",
    )
    with session_scope(url) as session:
        failed = session.execute(select(GenerationRun).where(GenerationRun.status == "failed")).scalar_one()
        assert failed.video_id is None and "not a readable video" in (failed.error or "")
        assert session.execute(select(func.count()).select_from(Video)).scalar_one() == 1
