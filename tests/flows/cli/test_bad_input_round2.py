"""Hostile single videos, round two: every deterministic problem is bad input (exit 2, one line naming
the file, nothing stored), found from the headers before any decode where the headers show it; valid
but unusual media (variable frame rate, names that look like protocols) is scored."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from emsync_models.errors import InputError, as_input_error, is_input_problem
from emsync_models.render.audio import RenderError
from emsync_models.render.checks import RenderCheckFailed
from emsync_models.render.mux import MuxError
from flows.cli.app import app
from tests.media import ffmpeg, make_clip

runner = CliRunner()
FIXED = ("--valence", "0", "--arousal", "0")


def run_cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _runs(data_dir: Path) -> list[tuple]:
    db = data_dir / "emsync.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return list(conn.execute("select status, error_kind from generation_runs"))


def _objects(data_dir: Path) -> list[Path]:
    folder = data_dir / "objects"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def assert_refused(code: int, output: str, subject: str, problem: str, data_dir: Path) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and subject in output.replace("\n", "") and problem in output, output
    assert not [line for line in output.splitlines() if line.startswith("stage cuts")], output  # before decoding
    assert _runs(data_dir) == [] and _objects(data_dir) == []


# -- the error classes -------------------------------------------------------------------------------------


def _os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code), "/videos/x.mp4")


INPUT = [
    InputError("x.mp4", "bad"),
    _os_error(errno.ENAMETOOLONG),
    _os_error(errno.ELOOP),
    _os_error(errno.EACCES),
    _os_error(errno.EPERM),
    _os_error(errno.ENOENT),
    _os_error(errno.ENOTDIR),
    _os_error(errno.EISDIR),
    PermissionError(errno.EACCES, "Permission denied", "/videos/x.mp4"),
    RuntimeError("Symlink loop from '/videos/x.mp4'"),
]
INFRA = [
    _os_error(errno.ENOSPC),
    _os_error(errno.EIO),
    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    TimeoutError("timed out"),
    OperationalError("select 1", {}, Exception("connection refused")),
    MuxError("ffmpeg failed: malloc failed"),
    RenderError("fluidsynth wrote 0.5 s of the 6.0 s the music lasts"),
    RenderCheckFailed("the render is silent"),
    RuntimeError("object keys disagree"),
]


@pytest.mark.parametrize("exc", INPUT, ids=lambda e: f"{type(e).__name__}-{getattr(e, 'errno', '')}")
def test_deterministic_problems_are_input(exc: BaseException) -> None:
    assert is_input_problem(exc)
    converted = as_input_error(exc)
    assert isinstance(converted, InputError) and converted.problem


@pytest.mark.parametrize("exc", INFRA, ids=lambda e: f"{type(e).__name__}-{getattr(e, 'errno', '')}")
def test_what_may_pass_is_infrastructure(exc: BaseException) -> None:
    assert not is_input_problem(exc) and as_input_error(exc) is None


@pytest.mark.parametrize("exc", [*INPUT, *INFRA], ids=lambda e: type(e).__name__)
def test_prefect_retries_exactly_the_infrastructure_class(exc: BaseException) -> None:
    from prefect.states import Failed

    from flows.catalog.tasks import _is_infra_failure

    state = Failed(data=exc)
    assert _is_infra_failure(None, None, state) is (exc in INFRA)


# -- refused from the headers (or the arguments) -------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", str(2**63)])
def test_a_seed_outside_the_stored_range_is_refused_up_front(seed: str, tmp_path: Path,
                                                            isolated_settings: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=2.0)
    code, output = run_cli("soundtrack", str(clip), "--out", str(tmp_path / "o.mp4"), "--seed", seed, *FIXED)
    assert_refused(code, output, "--seed", "outside", isolated_settings)


def test_a_one_pixel_wide_video_is_bad_input(tmp_path: Path, isolated_settings: Path) -> None:
    src = tmp_path / "px1.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=2x2:rate=10:duration=2", "-vf", "scale=1:1", "-c:v", "ffv1", str(src))
    code, output = run_cli("soundtrack", str(src), "--out", str(tmp_path / "o.mp4"), *FIXED)
    assert_refused(code, output, "px1.mkv", "1x1 pixels", isolated_settings)


def test_a_huge_picture_is_refused_before_decoding(tmp_path: Path, isolated_settings: Path) -> None:
    src = tmp_path / "b8k.mp4"  # ~200 KB of H.264 that decodes to 67 Mpx frames
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=8192x8192:rate=10:duration=1", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", str(src))
    code, output = run_cli("soundtrack", str(src), "--out", str(tmp_path / "o.mp4"), *FIXED)
    assert_refused(code, output, "b8k.mp4", "8192x8192", isolated_settings)


@pytest.mark.parametrize("container", ["m4a", "mka"])
def test_audio_with_cover_art_is_audio_only(container: str, tmp_path: Path, isolated_settings: Path) -> None:
    src = tmp_path / f"cover.{container}"
    codec = "mjpeg" if container == "m4a" else "png"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=6", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=1:duration=1",
           "-map", "0", "-map", "1", "-frames:v", "1", "-c:a", "aac", "-c:v", codec, "-disposition:v", "attached_pic",
           str(src))
    code, output = run_cli("soundtrack", str(src), "--out", str(tmp_path / "o.mp4"), *FIXED)
    assert_refused(code, output, src.name, "audio-only file (the only picture is cover art)", isolated_settings)


@pytest.mark.parametrize("where", ["input", "--out"])
def test_a_path_component_over_255_bytes_is_bad_input(where: str, tmp_path: Path, isolated_settings: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=2.0)
    long = tmp_path / ("L" * 300 + ".mp4")
    src, out = (long, tmp_path / "o.mp4") if where == "input" else (clip, long)
    code, output = run_cli("soundtrack", str(src), "--out", str(out), *FIXED)
    assert_refused(code, output, "LLLL", "255 bytes", isolated_settings)


def test_a_folder_where_the_plot_goes_is_refused_before_any_work(tmp_path: Path, isolated_settings: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=2.0)
    (tmp_path / "out.png").mkdir()
    code, output = run_cli("soundtrack", str(clip), "--out", str(tmp_path / "out.mp4"),
                           "--plot", str(tmp_path / "out.png"), *FIXED)
    assert_refused(code, output, "out.png", "is a folder", isolated_settings)


# -- valid media that used to be refused --------------------------------------------------------------------


@pytest.mark.slow
def test_a_variable_frame_rate_screen_recording_is_scored(tmp_path: Path, isolated_settings: Path) -> None:
    src = tmp_path / "vfr.mp4"  # 96 frames on a 60 fps grid: average 12 fps
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=60:duration=8", "-vf", r"select='lt(mod(n\,60)\,12)'",
           "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src))
    code, output = run_cli("soundtrack", str(src), "--out", str(tmp_path / "o.mp4"), *FIXED, "--json")
    assert code == 0, output
    assert (tmp_path / "o.mp4").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["concat:rel.mp4", "http:x.mp4"])
def test_a_file_named_like_a_protocol_is_muxed_as_a_file(name: str, tmp_path: Path, isolated_settings: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_clip(tmp_path / name, seconds=3.0)
    monkeypatch.chdir(tmp_path)
    code, output = run_cli("soundtrack", clip.name, "--out", "o.mp4", *FIXED, "--json")
    assert code == 0, output
    assert (tmp_path / "o.mp4").is_file()
