"""A new default music model never silently re-renders a catalog: its pin, the operator's move, coverage.

Real PostgreSQL (infra/postgres.sh) and the real models, as the other catalog flow tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from sqlalchemy import func, select, update

from db.models import Catalog, GenerationRun
from db.session import session_scope
from flows.catalog.flows import backfill, ingest_catalog
from flows.catalog.pinning import known_versions
from flows.ops.dashboard import render, summary
from flows.ops.metrics import build_registry
from flows.ops.queries import catalog_status
from flows.settings import get_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _runs(url: str) -> int:
    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(GenerationRun)).scalar_one()


def _status(url: str, name: str):  # noqa: ANN202 - CatalogStatus
    return {row.name: row for row in catalog_status(url)}[name]


def test_catalog_keeps_v1_after_the_default_moves_until_the_operator_moves_it(
    prefect_api: str, pg_url: str, tiny_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clips = tiny_clips[:2]
    monkeypatch.setenv("EMSYNC_DATABASE_URL", pg_url)
    monkeypatch.setenv("EMSYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(clips[0].parent)]))
    manifest = tmp_path / "shows.csv"
    manifest.write_text("uri,external_id\n" + "".join(f"{p},ep-{i}\n" for i, p in enumerate(clips)))
    version = {model: v for v, model in known_versions().items()}

    # Before the switch: a worker configured for v1 backfills the catalog.
    monkeypatch.setenv("EMSYNC_MUSIC_MODEL", "v1")
    get_settings.cache_clear()
    ingest_catalog(str(manifest), "shows")
    first = backfill("shows")
    assert (first["processed"], first["succeeded"], first["music model"]) == (2, 2, "v1")
    url = get_settings().store.resolved_database_url
    # Catalogs backfilled by the code before the pin existed carry none (the migration adds an empty
    # column): the backfill below must find v1 from the catalog's own soundtracks.
    with session_scope(url) as session:
        session.execute(update(Catalog).values(music_model=None))
    v1_label = f"{version['v1']} (v1)"
    assert _status(url, "shows").soundtracked_by_music == {v1_label: 2}

    # The switch: the default is v2 now.
    monkeypatch.delenv("EMSYNC_MUSIC_MODEL")
    get_settings.cache_clear()
    assert get_settings().models.music_model == "v2"
    after = backfill("shows")
    assert (after["processed"], after["music model"]) == (0, "v1"), "no video re-rendered by a new default"
    status = _status(url, "shows")
    assert (status.music_model, status.soundtracked_by_music, status.soundtracked) == ("v1", {v1_label: 2}, 2)
    assert _runs(url) == 2
    scraped = generate_latest(build_registry(url)).decode()
    series = f'catalog="shows",music="{version["v1"]}",music_model="v1"'
    assert f"emsync_catalog_soundtracked_videos{{{series}}} 2.0" in scraped
    assert 'emsync_catalog_music_info{catalog="shows",music_model="v1"} 1.0' in scraped
    page = render(summary(url), 15)
    assert f'data-music="{v1_label}"' in page and "<td>v1</td>" in page

    # The operator's move: each video is soundtracked once by v2; the v1 soundtracks stay.
    moved = backfill("shows", music_model="v2")
    assert (moved["processed"], moved["succeeded"], moved["music model"]) == (2, 2, "v2")
    again = backfill("shows")
    assert (again["processed"], again["music model"]) == (0, "v2")
    status = _status(url, "shows")
    assert status.music_model == "v2"
    assert status.soundtracked_by_music == {v1_label: 2, f"{version['v2']} (v2)": 2}
    assert _runs(url) == 4
