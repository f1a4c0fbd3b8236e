"""Fixtures shared by every layer's tests: isolated settings and small real media files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.settings import get_settings
from tests.media import make_clip

# The real servers (PostgreSQL, S3, the Prefect server) and the tiny catalog clips, for every folder.
pytest_plugins = ["tests.servers"]

# Fixtures that start or reach a real server (infra/*.sh): a test that uses one is an integration test,
# whatever module it lives in, so `make test-fast` (-m "not integration and not slow") never starts one.
SERVER_FIXTURES = frozenset({"prefect_api", "pg_url", "s3_env", "production_env"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data dir (SQLite file, object folder, caches) unless it sets one itself."""
    data_dir = tmp_path_factory.mktemp("emsync-data")
    monkeypatch.setenv("EMSYNC_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def thread_budget() -> dict[str, Any]:
    """The test process sizes its thread pools once, at its start, like every entry point (the models'
    pools one thread: emsync_models.threads.MODEL_THREADS); no test changes them afterwards."""
    from flows.runtime import apply_thread_budget
    from flows.settings import Settings

    return apply_thread_budget(Settings())


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip_with_cuts(media_dir: Path) -> Path:
    return make_clip(media_dir / "cuts.mp4", seconds=9.0, colors=("red", "blue", "green"))
