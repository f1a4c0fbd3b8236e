"""A hostile catalog, round two: the S3 fence covers manifests and is segment-exact, manifest text is
never markup, one bad row (a symlink loop, a 300-byte name, an unreadable file, JSON nested 400 deep or
holding a 5,000-digit integer) stays that row's problem, and a bad catalog name is refused before any
flow starts."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.models import FlowRunLink, Video
from db.session import session_scope
from emsync_models.errors import InputError
from flows.catalog.manifest import read_manifest, resolve_source, s3_allowed
from flows.cli.app import app
from flows.settings import get_settings
from flows.storage.store import s3_store_from_settings

runner = CliRunner()
EMSYNC = str(Path(sys.executable).with_name("emsync"))


def _videos(url: str) -> list[str]:
    with session_scope(url) as session:
        return sorted(session.execute(select(Video.source_uri)).scalars())


def _flow_rows(url: str) -> int:
    with session_scope(url) as session:
        return len(session.execute(select(FlowRunLink.id)).all())


# -- the S3 fence ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_manifest_outside_the_s3_fence_is_never_read_nor_echoed(
    production_env: dict[str, str], prefect_api: str
) -> None:
    settings = get_settings()
    client = s3_store_from_settings(settings).client
    client.make_bucket(bucket_name="private-" + settings.store.s3_bucket[-10:])
    bucket = "private-" + settings.store.s3_bucket[-10:]
    secret = b'{"db_password": "hunter2"\n'
    client.put_object(bucket_name=bucket, object_name="secret.jsonl", data=io.BytesIO(secret), length=len(secret))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["catalog", "ingest", f"s3://{bucket}/secret.jsonl"])
    assert result.exit_code == 2, result.output
    assert "outside the allowed S3 locations" in result.output and "hunter2" not in result.output
    assert _flow_rows(settings.store.resolved_database_url) == 0
    # The flow itself (the scheduled deployment's way in) refuses it too.
    from flows.catalog.flows import ingest_catalog

    with pytest.raises(InputError, match="outside the allowed S3 locations"):
        ingest_catalog(f"s3://{bucket}/secret.jsonl", "x")


def test_the_s3_fence_compares_whole_path_segments(tmp_path: Path) -> None:
    for allowed in (["s3://emsync/inputs"], ["s3://emsync/inputs/"]):
        assert s3_allowed("emsync", "inputs/x.mp4", allowed)
        assert s3_allowed("emsync", "inputs/deep/x.mp4", allowed)
        for key in ("inputs-private/x.mp4", "inputsecret.mp4", "inputs"):
            assert not s3_allowed("emsync", key, allowed), key
            with pytest.raises(InputError, match="outside the allowed S3 locations"):
                resolve_source(f"s3://emsync/{key}", tmp_path, [], allowed)
    assert s3_allowed("emsync", "anything/x.mp4", ["s3://emsync"])
    assert not s3_allowed("emsync2", "x.mp4", ["s3://emsync"])


# -- rows that must stay their own problem ---------------------------------------------------------------


def _ingest(manifest: Path, *extra: str) -> tuple[int, str]:
    """The real CLI in a process of its own (a test runner's swapped streams confuse Prefect's log handler)."""
    env = {**os.environ, "EMSYNC_DATA_DIR": str(get_settings().store.data_dir)}
    done = subprocess.run([EMSYNC, "catalog", "ingest", str(manifest), *extra], env=env, cwd=manifest.parent,
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.integration
def test_markup_in_manifest_text_is_printed_as_written(prefect_api: str, tiny_clips: list[Path],
                                                       tmp_path: Path) -> None:
    shutil.copy(tiny_clips[0], tmp_path / "ok.mp4")
    manifest = tmp_path / "m.csv"
    manifest.write_text("uri\nok.mp4\n[/x].mp4\n[link=https://example.invalid]click-me[/link].mp4\n")
    code, output = _ingest(manifest)
    assert code == 3, output
    assert "Traceback" not in output and "MarkupError" not in output
    flat = output.replace("\n", "").replace("│", "").replace(" ", "")
    assert "[/x].mp4" in flat and "[link=https://example.invalid]click-me[/link].mp4" in flat
    assert len(_videos(get_settings().store.resolved_database_url)) == 1


@pytest.mark.integration
def test_a_symlink_loop_or_a_300_byte_name_is_that_rows_problem(prefect_api: str, tiny_clips: list[Path],
                                                                tmp_path: Path) -> None:
    shutil.copy(tiny_clips[0], tmp_path / "ok.mp4")
    (tmp_path / "loop.mp4").symlink_to("loop.mp4")
    long_name = "L" * 300 + ".mp4"
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"uri\nok.mp4\nloop.mp4\n{long_name}\n")
    code, output = _ingest(manifest)
    assert code == 3, output
    assert "Traceback" not in output and "symlink loop" in output and "255 bytes" in output
    assert [Path(u).name for u in _videos(get_settings().store.resolved_database_url)] == ["ok.mp4"]


@pytest.mark.integration
def test_an_unreadable_file_fails_only_its_row(prefect_api: str, tiny_clips: list[Path], tmp_path: Path) -> None:
    """The CLI runs without the capabilities that let root read any file (as a normal user would be):
    the unreadable row is refused as that row's problem, its batch neighbours on both sides registered."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run the CLI without CAP_DAC_OVERRIDE")
    for name, clip in (("a.mp4", tiny_clips[0]), ("secret.mp4", tiny_clips[1]), ("c.mp4", tiny_clips[2])):
        shutil.copy(clip, tmp_path / name)
    (tmp_path / "secret.mp4").chmod(0)
    (tmp_path / "m.csv").write_text("uri\na.mp4\nsecret.mp4\nc.mp4\n")
    caps = "-dac_override,-dac_read_search"
    env = {**os.environ, "EMSYNC_DATA_DIR": str(get_settings().store.data_dir)}
    done = subprocess.run([setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", EMSYNC, "catalog", "ingest",
                           str(tmp_path / "m.csv")], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "permission denied" in output and "Traceback" not in output
    names = sorted(Path(u).name for u in _videos(get_settings().store.resolved_database_url))
    assert names == ["a.mp4", "c.mp4"], output


@pytest.mark.integration
def test_deep_or_huge_json_rows_are_their_own_problem(prefect_api: str, tiny_clips: list[Path],
                                                      tmp_path: Path) -> None:
    shutil.copy(tiny_clips[0], tmp_path / "ok.mp4")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"uri":"ok.mp4"}\n'
                        '{"uri":"x.mp4","metadata":{"x":' + "[" * 400 + "]" * 400 + "}}\n"
                        '{"uri":"y.mp4","n":' + "9" * 5000 + "}\n"
                        + "[" * 100_000 + "]" * 100_000 + "\n")
    read = read_manifest(manifest)
    assert [p.row for p in read.problems] == [2, 3, 4]
    assert "nested deeper" in read.problems[0].reason and "digits" in read.problems[1].reason
    assert "nested too deeply" in read.problems[2].reason
    code, output = _ingest(manifest)
    assert code == 3, output
    assert "Traceback" not in output and "RecursionError" not in output
    assert [Path(u).name for u in _videos(get_settings().store.resolved_database_url)] == ["ok.mp4"]


# -- catalog names ---------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("how", ["option", "file name"])
def test_a_bad_catalog_name_is_one_line_before_any_flow(how: str, prefect_api: str, tiny_clips: list[Path],
                                                        tmp_path: Path) -> None:
    shutil.copy(tiny_clips[0], tmp_path / "ok.mp4")
    if how == "option":
        manifest, extra = tmp_path / "m.csv", ["--catalog", "C" * 300]
    else:
        manifest, extra = tmp_path / "x'; DROP TABLE videos.csv", []
    manifest.write_text("uri\nok.mp4\n")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    code, output = _ingest(manifest, *extra)
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "catalog name" in output, output
    assert _flow_rows(get_settings().store.resolved_database_url) == 0


# -- a PostgreSQL outage during a video's own writes ---------------------------------------------------


@pytest.mark.integration
def test_a_soundtracks_rows_ride_out_a_database_outage(pg_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from sqlalchemy.engine import make_url

    from db.models import SUCCEEDED, GenerationRun
    from db.session import upgrade
    from flows.storage.persist import record_soundtrack
    from tests.e2e.test_hostile_catalog import _Forwarder

    target = make_url(pg_url)
    proxy = _Forwarder((target.host or "127.0.0.1", int(target.port or 5432)))
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.up()
    upgrade(url, "head")
    monkeypatch.setenv("EMSYNC_DATABASE_URL", url)
    monkeypatch.setenv("EMSYNC_DB_RETRY_WINDOW_S", "60")
    get_settings.cache_clear()
    artifacts = {}
    for kind, suffix in (("midi", ".mid"), ("report", ".json")):
        artifacts[kind] = tmp_path / f"a{suffix}"
        artifacts[kind].write_bytes(kind.encode() * 10)
    proxy.down()
    threading.Timer(4.0, proxy.up).start()  # the server comes back while the job waits for it
    keys = record_soundtrack(
        get_settings(), source_uri=str(tmp_path / "v.mp4"), content_hash="ab" * 32,
        probe={"duration_s": 3.0, "fps": 25.0, "width": 64, "height": 48, "frame_count": 75,
               "size_bytes": 10, "video_codec": "h264", "has_audio": False, "audio_codec": None,
               "audio_sample_rate": None, "container": "mp4", "path": "v.mp4"},
        cuts_s=[], emotion={"source": "user", "model_name": "user", "model_version": "user",
                            "overall": {"valence": 0.0, "arousal": 0.0}, "scenes": []},
        params={"seed": 0}, model_versions={"cuts": "c", "emotion": "user", "music": "m"},
        timings={"probe": 0.1}, artifacts=artifacts)
    assert set(keys) == {"midi", "report"}
    with session_scope(url) as session:
        assert [r.status for r in session.execute(select(GenerationRun)).scalars()] == [SUCCEEDED]
    proxy.down()
