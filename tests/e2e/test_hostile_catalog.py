"""A hostile catalog (issue #15): rows that must stay their own problem, sources outside the allow-lists,
objects lost behind our back, flows that die, databases that go away, and the infra scripts' state."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from db.models import FAILED, PENDING, RUNNING, SUCCEEDED, Artifact, Failure, FlowRunLink, GenerationRun, Video
from db.session import session_scope
from emsync_models.errors import InputError
from flows.catalog import queries, work
from flows.catalog.flows import ingest_catalog
from flows.catalog.manifest import read_manifest, resolve_source
from flows.catalog.submission import bounded_submit
from flows.ops import queries as ops_queries
from flows.ops.outcome import CatalogRunFailed
from flows.settings import get_settings
from flows.storage.store import make_store, s3_store_from_settings

REPO = Path(__file__).resolve().parents[2]


def ingest_summary(*args: str) -> dict:
    """The ingest's summary. An ingest with rejected rows ends Failed (exit 3, issue 13) after registering
    the others, so its summary rides on the CatalogRunFailed it raises; a clean one returns it."""
    try:
        return ingest_catalog(*args)
    except CatalogRunFailed as exc:
        assert exc.summary["rejected rows"] > 0
        return exc.summary


def _failures(url: str) -> list[tuple[int | None, str, str, str]]:
    with session_scope(url) as session:
        rows = session.execute(select(Failure.row_number, Failure.subject, Failure.reason, Failure.kind)).all()
    return sorted((tuple(r) for r in rows), key=lambda r: r[0] or 0)  # type: ignore[misc]


# -- manifest rows (defects 3, 4, 11, 12) ---------------------------------------------------------------


@pytest.mark.integration
def test_nul_in_a_uri_is_that_rows_problem_on_postgres(
    prefect_api: str, pg_url: str, tiny_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMSYNC_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    shutil.copy(tiny_clips[0], tmp_path / "a.mp4")
    manifest = tmp_path / "nul.csv"
    manifest.write_bytes(b"uri\na.mp4\nb\x00.mp4\n")

    result = ingest_summary(str(manifest))
    assert result["registered"] == 1 and result["rejected rows"] == 1
    ((row, subject, reason, kind),) = _failures(pg_url)
    assert (row, subject, kind) == (3, "b\\x00.mp4", "input") and "NUL" in reason
    (status,) = ops_queries.catalog_status(pg_url)
    # The run is recorded (not "never"); a rejected row makes it end Failed (exit 3, issue 13).
    assert status.videos == 1 and status.last_run is not None and status.last_state == "failed"


@pytest.mark.integration
def test_bad_rows_never_sink_their_batch_on_postgres_and_s3(
    prefect_api: str,
    production_env: dict[str, str],
    tiny_clips: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = get_settings()
    store = s3_store_from_settings(settings)
    store.put_file("inputs/c.mp4", tiny_clips[2])  # inside the default allowed location
    store.put_file("private/tenant-b.mp4", tiny_clips[3])  # same bucket, outside the input prefix
    shutil.copy(tiny_clips[0], tmp_path / "a.mp4")
    shutil.copy(tiny_clips[1], tmp_path / "b.mp4")
    bucket = settings.store.s3_bucket
    rows = [
        {"uri": "a.mp4"},
        {"uri": "b.mp4", "note": "x\u0000y"},
        {"uri": "b.mp4", "external_id": "id\u0000"},
        {"uri": f"s3://{bucket}/../../x.mp4"},
        {"uri": "s3://Not_A_Bucket/inputs/x.mp4"},
        {"uri": "s3://other/private/tenant-b.mp4"},
        {"uri": f"s3://{bucket}/private/tenant-b.mp4"},
        {"uri": "b.mp4", "score": float("nan")},
        {"uri": f"s3://{bucket}/inputs/c.mp4"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))

    result = ingest_summary(str(manifest))
    assert result["registered"] == 2, result["failures"]
    failures = _failures(settings.store.resolved_database_url)
    assert [f[0] for f in failures] == [2, 3, 4, 5, 6, 7, 8]
    assert {f[3] for f in failures} == {"input"}  # none counted as an outage
    reasons = [f[2] for f in failures]
    assert "metadata holds a NUL" in reasons[0]
    assert "'external_id' holds a NUL" in reasons[1]
    assert "'..'" in reasons[2]
    assert "invalid bucket name" in reasons[3]
    assert "outside the allowed S3 locations" in reasons[4] and "outside the allowed S3 locations" in reasons[5]
    assert "NaN" in reasons[6]
    with session_scope(settings.store.resolved_database_url) as session:
        uris = sorted(session.execute(select(Video.source_uri)).scalars())
    assert uris[0].endswith("/a.mp4") and uris[1] == f"s3://{bucket}/inputs/c.mp4"


def test_allowed_s3_sources_follow_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    assert settings.store.resolved_allowed_s3_sources == ["s3://emsync/inputs/"]
    allowed = settings.store.resolved_allowed_s3_sources
    assert resolve_source("s3://emsync/inputs/a/b.mp4", tmp_path, [], allowed).key == "inputs/a/b.mp4"
    for uri in ("s3://emsync/outputs/b.mp4", "s3://other/inputs/b.mp4", "s3://emsync/inputsX/b.mp4"):
        with pytest.raises(InputError, match="outside the allowed S3 locations"):
            resolve_source(uri, tmp_path, [], allowed)
    monkeypatch.setenv("EMSYNC_ALLOWED_S3_SOURCES", '["s3://media/tenant-a/", "s3://shared"]')
    get_settings.cache_clear()
    allowed = get_settings().store.resolved_allowed_s3_sources
    assert resolve_source("s3://media/tenant-a/v.mp4", tmp_path, [], allowed).bucket == "media"
    assert resolve_source("s3://shared/any/v.mp4", tmp_path, [], allowed).bucket == "shared"
    with pytest.raises(InputError, match="outside the allowed"):
        resolve_source("s3://media/tenant-b/v.mp4", tmp_path, [], allowed)


@pytest.mark.integration
def test_one_file_under_two_spellings_is_a_reported_duplicate(
    tmp_path: Path, tiny_clips: list[Path], prefect_api: str
) -> None:
    shutil.copy(tiny_clips[0], tmp_path / "a.mp4")
    manifest = tmp_path / "two.csv"
    manifest.write_text(f"uri,external_id\na.mp4,a\n./a.mp4,c\nfile://{tmp_path}/a.mp4,d\n")
    read = read_manifest(manifest)
    assert [r.external_id for r in read.rows] == ["a"]
    assert [(p.row, p.reason) for p in read.problems] == [
        (3, "duplicate entry: same file as row 2"),
        (4, "duplicate entry: same file as row 2"),
    ]
    result = ingest_summary(str(manifest))
    assert (result["registered"], result["rejected rows"]) == (1, 2)
    # The same file again under a new id, in a later manifest, is reported rather than dropped.
    again = tmp_path / "again.csv"
    again.write_text("uri,external_id\na.mp4,e\n")
    result = ingest_summary(str(again), "two")
    assert result["registered"] == 0
    assert "already in this catalog as external_id 'a'" in result["failures"][0]["reason"]


def test_an_over_long_csv_field_is_reported_on_its_own_row(tmp_path: Path) -> None:
    manifest = tmp_path / "long.csv"
    manifest.write_text("uri,note\na.mp4,1\nb.mp4," + "x" * 140_000 + "\nc.mp4,3\n")
    read = read_manifest(manifest)
    assert [(p.row, p.reason) for p in read.problems] == [(3, "field 'note' is longer than 131072 characters")]
    assert [r.uri for r in read.rows] == ["a.mp4", "c.mp4"]


@pytest.mark.integration
def test_hls_playlist_in_a_catalog_is_a_rejected_row(prefect_api: str, tmp_path: Path) -> None:
    from tests.media import ffmpeg

    private = tmp_path / "private" / "secret.ts"
    private.parent.mkdir()
    ffmpeg("-f", "lavfi", "-i", "smptebars=size=160x120:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-f", "mpegts", str(private))
    folder = tmp_path / "hls"
    folder.mkdir()
    (folder / "list.m3u8").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{private}\n#EXT-X-ENDLIST\n"
    )
    manifest = folder / "hls.csv"
    manifest.write_text("uri\nlist.m3u8\n")
    result = ingest_summary(str(manifest))
    assert result["registered"] == 0
    assert "only single-file containers are accepted" in result["failures"][0]["reason"]


# -- lost objects (defect 8) ----------------------------------------------------------------------------


@pytest.mark.integration
def test_verify_finds_lost_objects_and_repair_lets_the_next_backfill_redo_them(
    production_env: dict[str, str], tiny_clips: list[Path], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from flows.cli.app import app
    from flows.soundtrack import SoundtrackOptions, run_soundtrack

    settings = get_settings()
    url = settings.store.resolved_database_url
    clip = tiny_clips[4]
    result = run_soundtrack(clip, tmp_path / "o.mp4", settings, SoundtrackOptions(valence=0.2, arousal=0.1, seed=1))
    catalog_id = queries.ensure_catalog(url, "lost")
    video_id, _ = queries.add_member(url, catalog_id=catalog_id, content_hash=result.report["input"]["sha256"],
                                     source_uri=str(clip), probe={}, external_id=None, metadata={})
    store = make_store(settings)
    lost = result.report["artifacts"]["video"]
    store.delete(lost)  # behind the platform's back

    runner = CliRunner()
    checked = runner.invoke(app, ["catalog", "verify", "lost"])
    assert checked.exit_code == 3, checked.output  # cron jobs and monitoring must notice
    assert "5 objects: 1 missing or changed" in checked.output and "--repair" in checked.output
    with session_scope(url) as session:
        assert session.execute(select(GenerationRun.status)).scalar_one() == SUCCEEDED  # report only

    repaired = runner.invoke(app, ["catalog", "verify", "lost", "--repair"])
    assert repaired.exit_code == 3 and "marked 1 runs failed" in repaired.output, repaired.output
    with session_scope(url) as session:
        run = session.execute(select(GenerationRun)).scalar_one()
        assert (run.status, run.error_kind) == (FAILED, "infra") and "video missing" in (run.error or "")
        assert session.execute(select(Artifact.object_key).where(Artifact.kind == "video")).scalar_one() == lost
    (status,) = ops_queries.catalog_status(url)
    assert status.soundtracked == 0 and status.failed == 1
    # The next backfill's enqueue puts it back in the queue.
    counts = work.enqueue_missing(url, catalog_id, run.model_versions, run.params)
    assert counts[PENDING] == 1
    # Redoing it re-uploads the lost object; verify is clean again.
    run_soundtrack(clip, tmp_path / "o2.mp4", settings, SoundtrackOptions(valence=0.2, arousal=0.1, seed=1))
    assert store.stat(lost) is not None
    clean = runner.invoke(app, ["catalog", "verify", "lost"])
    assert clean.exit_code == 0 and "5 objects: 0 missing" in clean.output, clean.output


# -- flow rows, bad-input output, database outages (defect 9) --------------------------------------------


@pytest.mark.integration
def test_a_flow_that_fails_leaves_its_row_failed(prefect_api: str, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("uri\na.mp4\n")
    url = get_settings().store.resolved_database_url

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("object store unreachable")

    import flows.catalog.ingest as catalog_ingest

    original = catalog_ingest.register_catalog
    catalog_ingest.register_catalog = broken  # type: ignore[assignment]
    try:
        with pytest.raises(RuntimeError):
            ingest_catalog(str(manifest))
    finally:
        catalog_ingest.register_catalog = original
    with session_scope(url) as session:
        link = session.execute(select(FlowRunLink)).scalar_one()
    assert link.state == "failed" and "object store unreachable" in json.dumps(link.summary)
    assert link.finished_at is not None and link.lease_owner is None


def test_rows_of_killed_flows_are_marked_abandoned() -> None:
    url = get_settings().store.resolved_database_url
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = work.HOST
    killed = queries.start_flow_link(url, "killed", "backfill", None, {}, f"{host}:{dead.pid}:x", 600)
    expired = queries.start_flow_link(url, "expired", "backfill", None, {}, "elsewhere:1:y", 0.001)
    alive = queries.start_flow_link(url, "alive", "backfill", None, {}, work.new_owner(), 600)
    legacy = queries.start_flow_link(url, "legacy", "backfill", None, {})  # no lease: nothing says it died
    time.sleep(0.01)
    assert queries.reap_flow_links(url, work.owner_is_dead) == 2
    with session_scope(url) as session:
        states = dict(session.execute(select(FlowRunLink.id, FlowRunLink.state)).all())
    assert states == {killed: "abandoned", expired: "abandoned", alive: RUNNING, legacy: RUNNING}


@pytest.mark.integration
def test_bad_manifest_is_one_line_without_tracebacks(prefect_api: str, tmp_path: Path) -> None:
    manifest = tmp_path / "bad.csv"
    manifest.write_text("path_to_video\na.mp4\n")
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "COLUMNS": "200"}
    code = "from flows.cli import app; app()"
    done = subprocess.run([sys.executable, "-c", code, "catalog", "ingest", str(manifest)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and "no 'uri' (or 'path') column" in lines[0], lines


class _Forwarder:
    """A TCP forwarder to PostgreSQL that can be cut and restored: a database outage on demand."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []

    def up(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen()
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def down(self) -> None:
        if self.listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would leave it listening.
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self.conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass


@pytest.mark.integration
def test_database_outage_is_retried_within_the_window(pg_url: str) -> None:
    from sqlalchemy.engine import make_url

    from db.session import with_db_retry

    target = make_url(pg_url)
    proxy = _Forwarder((target.host or "127.0.0.1", int(target.port or 5432)))
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.up()
    queries.ensure_catalog(url, "outage")  # migrations ran through the proxy

    def count() -> int:
        with session_scope(url) as session:
            return int(session.execute(text("SELECT count(*) FROM catalogs")).scalar_one())

    proxy.down()
    with pytest.raises(OperationalError):
        with_db_retry(1.0, count)  # a window shorter than the outage gives up
    threading.Timer(3.0, proxy.up).start()
    start = time.monotonic()
    assert with_db_retry(30.0, count) == 1  # a longer one rides it out
    assert time.monotonic() - start >= 2.5
    proxy.down()
    assert get_settings().batch.db_retry_window_s == 300.0


# -- leases held by a backfill (also) -------------------------------------------------------------------


def test_bounded_submit_never_holds_more_than_its_limit() -> None:
    taken = 0
    finished = 0
    most = 0
    pending: list[Future[None]] = []

    class Wrapped:
        def __init__(self, future: Future[None]) -> None:
            self.wrapped_future = future

    def items():  # noqa: ANN202 - a generator that claims as it yields, like backfill's claims()
        nonlocal taken, most
        for i in range(7):
            taken += 1
            most = max(most, taken - finished)
            yield i

    def submit(_item: int) -> Wrapped:
        future: Future[None] = Future()
        pending.append(future)
        threading.Timer(0.01, future.set_result, args=(None,)).start()
        return Wrapped(future)

    def on_done(_item: int, _future: Wrapped) -> None:
        nonlocal finished
        finished += 1

    bounded_submit(submit, items(), 2, on_done)
    assert finished == 7 and most == 2


# -- infra scripts' state (also) ------------------------------------------------------------------------


def test_triton_script_keeps_its_state_under_the_infra_dir(tmp_path: Path) -> None:
    state = tmp_path / "triton"
    state.mkdir()
    (state / "triton.env").write_text("EMSYNC_TRITON_URL=127.0.0.1:1\n")
    env = {k: v for k, v in os.environ.items() if k != "EMSYNC_TRITON_DIR"}
    done = subprocess.run(["bash", str(REPO / "infra" / "triton.sh"), "env"], capture_output=True, text=True,
                          env={**env, "EMSYNC_INFRA_DIR": str(tmp_path)}, timeout=60)
    assert done.returncode == 0 and "127.0.0.1:1" in done.stdout, done.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_s3_server_comes_back_on_the_same_port(tmp_path: Path) -> None:
    env = {**os.environ, "EMSYNC_INFRA_DIR": str(tmp_path)}
    script = str(REPO / "infra" / "s3.sh")

    def s3(cmd: str) -> str:
        return subprocess.run(["bash", script, cmd], env=env, capture_output=True, text=True, check=True,
                              timeout=120).stdout.strip()

    try:
        first = s3("start")
        s3("stop")
        assert s3("start") == first
    finally:
        s3("stop")
