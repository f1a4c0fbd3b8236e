"""Fixtures shared by every layer's tests: isolated settings and small real media files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from flows.settings import get_settings
from tests.media import make_clip

if TYPE_CHECKING:
    from emsync_models.music.request import MusicGenerator
    from emsync_models.music.v1.generator import MusicGeneratorV1
    from emsync_models.music.v2.generator import MusicGeneratorV2

# The real servers (PostgreSQL, S3, the Prefect server) and the tiny catalog clips, for every folder.
pytest_plugins = ["tests.servers"]

# Fixtures that start or reach a real server (infra/*.sh): a test that uses one must say so with the
# `integration` marker, so `make test-fast` (-m "not integration and not slow") never starts one and a
# reader sees it. tests/architecture/test_markers.py checks the source; this checks what was collected.
SERVER_FIXTURES = frozenset({"prefect_api", "pg_url", "s3_env", "production_env"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items if SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
                and not item.get_closest_marker("integration")]
    if unmarked:
        raise pytest.UsageError("uses a real server but is not marked integration: " + ", ".join(unmarked))


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


# Each committed music checkpoint is loaded once per session, for every folder (music, serving, ...):
# loading costs seconds. Tests that change a generator's attributes must do it with
# `monkeypatch.setattr`, so that the next test sees the committed defaults again.
@pytest.fixture(scope="session")
def load_model() -> Callable[[str], MusicGenerator]:
    """name -> that registered model from its committed checkpoint, loaded at most once per session."""
    from emsync_models.music import registry

    loaded: dict[str, MusicGenerator] = {}

    def load(name: str) -> MusicGenerator:
        spec = registry.spec(name)
        if not spec.checkpoint.is_file():
            pytest.skip(f"no committed {name} checkpoint at {spec.checkpoint}")
        if name not in loaded:
            loaded[name] = spec.load()
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def v1_generator(load_model: Callable[[str], MusicGenerator]) -> MusicGeneratorV1:
    return load_model("v1")  # type: ignore[return-value]


@pytest.fixture(scope="session")
def v2_generator(load_model: Callable[[str], MusicGenerator]) -> MusicGeneratorV2:
    return load_model("v2")  # type: ignore[return-value]
