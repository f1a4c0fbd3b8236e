"""Every kind of bad input: one clear line naming the input and the problem, exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.app import app
from tests.media import damaged_ts, ffmpeg, make_clip

runner = CliRunner()


def run_cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def leftovers(folder: Path, data_dir: Path) -> list[str]:
    """Files a failed run might have left: anything in the output folder or the object store."""
    found = [p.name for p in folder.iterdir()]
    objects = data_dir / "objects"
    if objects.exists():
        found += [str(p) for p in objects.rglob("*") if p.is_file()]
    return found


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def assert_clean_failure(code: int, output: str, subject: str, problem: str, out_dir: Path, data_dir: Path) -> None:
    assert code == 2, output
    assert "Traceback" not in output
    # Off a terminal the CLI logs each finished stage ("stage probe done, elapsed 0.1s"); the failure
    # itself is one line.
    lines = [line for line in output.splitlines() if line.strip() and not re.match(r"stage \w+ done, elapsed ", line)]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert subject in output.replace("\n", "") and problem in output, output
    assert leftovers(out_dir, data_dir) == []


def test_missing_file(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = tmp_path / "nope.mp4"
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert_clean_failure(code, output, "nope.mp4", "no such file", out_dir, isolated_settings)


def test_zero_byte_file(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = tmp_path / "empty.mp4"
    src.touch()
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert_clean_failure(code, output, "empty.mp4", "file is empty", out_dir, isolated_settings)


def test_not_a_video(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = tmp_path / "notes.mp4"
    src.write_text("these are my holiday notes, not a video\n" * 50)
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert_clean_failure(code, output, "notes.mp4", "not a readable video", out_dir, isolated_settings)


def test_audio_only(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = tmp_path / "song.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=3", "-c:a", "aac", str(src))
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert_clean_failure(code, output, "song.m4a", "audio-only", out_dir, isolated_settings)


def test_mix_original_on_video_without_audio(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = make_clip(tmp_path / "silent.mp4", seconds=2.0, audio=False)
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"), "--mix-original", "0.5")
    assert_clean_failure(code, output, "silent.mp4", "no audio track to mix", out_dir, isolated_settings)


def test_corrupt_stream(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = damaged_ts(tmp_path / "damaged.ts")
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert_clean_failure(code, output, "damaged.ts", "corrupt", out_dir, isolated_settings)


def test_truncated_mp4(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    full = make_clip(tmp_path / "full.mp4", seconds=4.0)
    src = tmp_path / "cut-short.mp4"
    src.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert code == 2 and "cut-short.mp4" in output and "Traceback" not in output, output
    assert leftovers(out_dir, isolated_settings) == []


def test_zero_length_video(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = tmp_path / "zero.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x180:r=25:d=1", "-frames:v", "0", "-c:v", "libx264", str(src))
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert_clean_failure(code, output, "zero.mp4", "zero-length", out_dir, isolated_settings)


def test_single_frame_video_is_too_short(tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    src = tmp_path / "blink.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x180:r=25:d=0.04", "-c:v", "libx264", str(src))
    code, output = run_cli("soundtrack", str(src), "--out", str(out_dir / "o.mp4"))
    assert_clean_failure(code, output, "blink.mp4", "too short", out_dir, isolated_settings)


def test_output_folder_missing(clip_with_cuts: Path, tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    code, output = run_cli("soundtrack", str(clip_with_cuts), "--out", str(tmp_path / "no-such-dir" / "o.mp4"))
    assert_clean_failure(code, output, "no-such-dir", "does not exist", out_dir, isolated_settings)


def test_output_folder_is_a_file(clip_with_cuts: Path, tmp_path: Path, out_dir: Path, isolated_settings: Path) -> None:
    blocker = out_dir / "afile"
    blocker.write_text("x")
    code, output = run_cli("soundtrack", str(clip_with_cuts), "--out", str(blocker / "o.mp4"))
    assert code == 2 and "afile" in output and "not a folder" in output, output
    assert sorted(p.name for p in out_dir.iterdir()) == ["afile"]


def test_output_folder_not_writable(clip_with_cuts: Path, out_dir: Path, isolated_settings: Path) -> None:
    # /proc/self is a real folder nobody, root included, may create files in.
    code, output = run_cli("soundtrack", str(clip_with_cuts), "--out", "/proc/self/o.mp4")
    assert_clean_failure(code, output, "/proc/self", "not writable", out_dir, isolated_settings)


def test_output_must_be_a_video_name(clip_with_cuts: Path, out_dir: Path, isolated_settings: Path) -> None:
    code, output = run_cli("soundtrack", str(clip_with_cuts), "--out", str(out_dir / "o.txt"))
    assert_clean_failure(code, output, "o.txt", "output must be a video file", out_dir, isolated_settings)


@pytest.mark.parametrize(("args", "problem"), [
    (("--valence", "0.5"), "give both or neither"),
    (("--valence", "1.5", "--arousal", "0"), "outside [-1, 1]"),
])
def test_bad_emotion_override(args: tuple[str, ...], problem: str, clip_with_cuts: Path, out_dir: Path,
                              isolated_settings: Path) -> None:
    code, output = run_cli("soundtrack", str(clip_with_cuts), "--out", str(out_dir / "o.mp4"), *args)
    assert code == 2 and problem in output and "Traceback" not in output, output
    assert leftovers(out_dir, isolated_settings) == []


def test_dead_model_server_is_reported_and_recorded(clip_with_cuts: Path, out_dir: Path, isolated_settings: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Not bad input but an outage: exit 1, one line, the failure kept in the database, no output."""
    from sqlalchemy import select

    from db.models import FAILED, GenerationRun
    from db.session import session_scope
    from flows.settings import get_settings

    monkeypatch.setenv("EMSYNC_MODEL_BACKEND", "triton")
    monkeypatch.setenv("EMSYNC_TRITON_URL", "127.0.0.1:9")  # discard port: nothing listens there
    monkeypatch.setenv("EMSYNC_TRITON_RETRIES", "1")
    get_settings.cache_clear()
    code, output = run_cli("soundtrack", str(clip_with_cuts), "--out", str(out_dir / "o.mp4"))
    assert code == 1, output
    assert "Traceback" not in output and "ServingUnavailable" in output, output
    assert leftovers(out_dir, isolated_settings) == []
    with session_scope(get_settings().store.resolved_database_url) as session:
        runs = session.scalars(select(GenerationRun)).all()
        assert [r.status for r in runs] == [FAILED]
        assert "ServingUnavailable" in (runs[0].error or "")
