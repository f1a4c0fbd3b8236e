"""register_videos: a re-ingest reads no headers it read before (the probe registered for the same bytes
is used), yet the limits as they are now still apply, and changed bytes are probed afresh."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from db.session import upgrade
from flows import job
from flows.catalog import queries
from flows.catalog.manifest import ManifestRow
from flows.catalog.tasks import register_videos
from flows.settings import get_settings
from tests.media import make_clip


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The real probe, counted."""
    seen: list[Path] = []
    real = job.probe_video

    def counted(path: Path, limits: object = None) -> object:
        seen.append(Path(path))
        return real(path, limits)  # type: ignore[arg-type]

    monkeypatch.setattr(job, "probe_video", counted)
    return seen


def _register(folder: Path, names: list[str], external_id: str | None = None,
              metadata: dict | None = None) -> list[tuple[int | None, str | None]]:
    url = get_settings().store.resolved_database_url
    upgrade(url, "head")
    catalog_id = queries.ensure_catalog(url, "c")
    rows = [ManifestRow(row=i + 2, uri=name, external_id=external_id, metadata=metadata or {})
            for i, name in enumerate(names)]
    # No flow run: failures are recorded without one.
    return [(o.video_id, o.problem) for o in register_videos.fn(url, catalog_id, rows, str(folder), None)]  # type: ignore[arg-type]


def test_a_reingest_probes_nothing_again_but_applies_todays_limits(tmp_path: Path, probes: list[Path],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    make_clip(tmp_path / "a.mp4", seconds=2.0, size="320x180")
    make_clip(tmp_path / "b.mp4", seconds=2.0, size="320x180", colors=("blue",))
    first = _register(tmp_path, ["a.mp4", "b.mp4"])
    assert [p for _, p in first] == [None, None] and len(probes) == 2
    again = _register(tmp_path, ["a.mp4", "b.mp4"])
    assert again == first and len(probes) == 2, "the same bytes were probed again"

    monkeypatch.setenv("EMSYNC_MAX_PIXELS", str(160 * 90))
    get_settings.cache_clear()
    limited = _register(tmp_path, ["a.mp4", "b.mp4"])
    assert len(probes) == 2
    assert all(p is not None and "320x180" in p and "EMSYNC_MAX_PIXELS" in p for _, p in limited), limited


def test_changed_bytes_are_probed_afresh(tmp_path: Path, probes: list[Path]) -> None:
    make_clip(tmp_path / "a.mp4", seconds=2.0)
    _register(tmp_path, ["a.mp4"])
    (tmp_path / "a.mp4").write_bytes(b"not a video any more")
    [(video_id, problem)] = _register(tmp_path, ["a.mp4"])
    assert len(probes) == 2 and video_id is None and problem is not None and "not a readable video" in problem


def _member(video_id: int) -> tuple:
    with sqlite3.connect(get_settings().store.data_dir / "emsync.db") as conn:
        return conn.execute("select source_uri, external_id, metadata from catalog_videos where video_id = ?",
                            (video_id,)).fetchone()


def test_a_reingest_changes_only_what_changed(tmp_path: Path) -> None:
    make_clip(tmp_path / "a.mp4", seconds=2.0)
    [(video_id, problem)] = _register(tmp_path, ["a.mp4"], "x1", {"k": "1"})
    assert problem is None and video_id is not None
    before = _member(video_id)
    assert _register(tmp_path, ["a.mp4"], "x1", {"k": "1"}) == [(video_id, None)]
    assert _register(tmp_path, ["a.mp4"]) == [(video_id, None)]  # no id, no metadata: nothing to change
    assert _member(video_id) == before
    assert _register(tmp_path, ["a.mp4"], "x1", {"k2": "2"}) == [(video_id, None)]
    assert json.loads(_member(video_id)[2]) == {"k": "1", "k2": "2"}
    [(_, problem)] = _register(tmp_path, ["a.mp4"], "x2")
    assert problem is not None and "'x1'" in problem and "'x2' was not recorded" in problem
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "a.mp4").write_bytes((tmp_path / "a.mp4").read_bytes())
    [(_, problem)] = _register(tmp_path, ["b/a.mp4"])
    assert problem is not None and "duplicate content" in problem

