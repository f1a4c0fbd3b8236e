"""Fixtures for the tests that use the real servers from infra/: fresh databases and buckets, tiny clips.

Server URLs come from environment variables that .ci/run sets after starting the servers:
  EMSYNC_TEST_POSTGRES_URL   e.g. postgresql+psycopg://postgres@127.0.0.1:5433/emsync (infra/postgres.sh start)
  EMSYNC_TEST_S3_ENDPOINT    e.g. 127.0.0.1:9100 (infra/s3.sh start; keys "testing"/"testing")
  PREFECT_API_URL            e.g. http://127.0.0.1:4200/api (infra/prefect.sh start)
Without the first two the integration tests skip with that reason. Without PREFECT_API_URL a Prefect
server is started once for the session by infra/prefect.sh (flows need an API; Prefect's own
ephemeral server would be started per process, which the SIGKILL test cannot afford).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.session import dispose_engines
from flows.settings import get_settings
from tests.clips import make_clips

REPO = Path(__file__).resolve().parents[1]
S3_KEYS = {"EMSYNC_S3_ACCESS_KEY": "testing", "EMSYNC_S3_SECRET_KEY": "testing"}


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    state = tmp_path_factory.mktemp("prefect-server")
    env = {**os.environ, "EMSYNC_PREFECT_DIR": str(state)}
    script = REPO / "infra" / "prefect.sh"
    url = (
        subprocess.run(["bash", str(script), "start"], env=env, check=True, capture_output=True, text=True, timeout=300)
        .stdout.strip()
        .splitlines()[-1]
    )
    os.environ["PREFECT_API_URL"] = url  # for the subprocesses the tests start
    # Prefect read its settings when it was imported; this process needs them overridden in context.
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        subprocess.run(["bash", str(script), "stop"], env=env, check=False, capture_output=True, timeout=60)


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    """Engines are cached per URL per process; tests switch databases, so start each from none."""
    dispose_engines()
    yield
    dispose_engines()


def require_integration(request: pytest.FixtureRequest) -> None:
    """A server fixture reached without the marker (e.g. through `request.getfixturevalue`) fails loudly."""
    if request.node.get_closest_marker("integration") is None:
        pytest.fail(f"{request.node.nodeid} uses {request.fixturename} but is not marked integration")


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the server .ci/run started (dropped afterwards)."""
    require_integration(request)
    base = os.environ.get("EMSYNC_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("EMSYNC_TEST_POSTGRES_URL is not set (start one with infra/postgres.sh start)")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = dict(host=url.host, port=url.port, user=url.username, password=url.password, dbname="postgres")
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    dispose_engines()
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for the S3 server .ci/run started, with a bucket of this test's own (created by our code)."""
    require_integration(request)
    endpoint = os.environ.get("EMSYNC_TEST_S3_ENDPOINT")
    if not endpoint:
        pytest.skip("EMSYNC_TEST_S3_ENDPOINT is not set (start one with infra/s3.sh start)")
    env = {
        "EMSYNC_OBJECT_STORE": "s3",
        "EMSYNC_S3_ENDPOINT": endpoint,
        "EMSYNC_S3_BUCKET": f"emsync-test-{uuid.uuid4().hex[:10]}",
        **S3_KEYS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return env


@pytest.fixture
def production_env(pg_url: str, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """PostgreSQL + S3 settings, as a worker in the fleet would have them."""
    monkeypatch.setenv("EMSYNC_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    return {**s3_env, "EMSYNC_DATABASE_URL": pg_url}


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("platform-clips")


@pytest.fixture(scope="session")
def tiny_clips(clip_dir: Path) -> list[Path]:
    """Eight distinct ~3 s, 64x48 clips of real photographs."""
    return make_clips(clip_dir, 8)


def write_manifest(path: Path, uris: list[str], *, jsonl: bool = False) -> Path:
    if jsonl:
        import json

        path.write_text("".join(json.dumps({"uri": u, "external_id": f"id-{i}"}) + "\n" for i, u in enumerate(uris)))
    else:
        path.write_text("uri,external_id\n" + "".join(f"{u},id-{i}\n" for i, u in enumerate(uris)))
    return path
