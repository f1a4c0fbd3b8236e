"""The mux writes with the FFmpeg that probed the input (PyAV's): whatever the probe accepted is muxed the
same way, and every output plays in an independent player (Debian's ffprobe/ffmpeg decode it cleanly)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from emsync_models.errors import InputError
from emsync_models.render.mux import mux_soundtrack
from emsync_models.video.probe import probe_video
from flows.cli.app import app
from tests.media import ffmpeg, make_clip

runner = CliRunner()
FIXED = ("--valence", "0", "--arousal", "0")


def played(path: Path) -> dict[str, dict]:
    """Streams of `path` as Debian's ffprobe sees them, after Debian's ffmpeg decoded every frame cleanly."""
    shown = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=codec_type,codec_name,start_time,duration,nb_frames,sample_rate,channels,width,"
                            "height:format=format_name,duration", "-of", "json", str(path)],
                           capture_output=True, text=True, check=True)
    decoded = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True)
    assert decoded.returncode == 0 and decoded.stderr.strip() == "", decoded.stderr
    info = json.loads(shown.stdout)
    streams = {s["codec_type"]: s for s in info["streams"]}
    streams["format"] = info["format"]
    return streams


@pytest.fixture
def music(tmp_path: Path) -> Path:
    wav = tmp_path / "music.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=5", "-ac", "2", str(wav))
    return wav


@pytest.mark.parametrize(("suffix", "encode", "out_name", "copied"), [
    (".mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "3"], "o.mp4", "h264"),
    (".ts", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts"], "o.mov", "h264"),
    (".webm", ["-c:v", "libvpx", "-b:v", "300k"], "o.mp4", None),  # VP8 cannot go into MP4: re-encoded
    (".webm", ["-c:v", "libvpx", "-b:v", "300k"], "o.mkv", "vp8"),
])
def test_outputs_play_and_match_the_input_length(tmp_path: Path, music: Path, suffix: str, encode: list[str],
                                                  out_name: str, copied: str | None) -> None:
    src = tmp_path / f"in{suffix}"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=321x181:rate=25:duration=4", "-f", "lavfi", "-i",
           "sine=frequency=330:duration=4", *encode, "-c:a", "aac" if suffix != ".webm" else "libopus", str(src))
    out = mux_soundtrack(src, music, tmp_path / out_name, duration_s=3.5)
    streams = played(out)
    assert streams["video"]["codec_name"] == (copied or "h264")
    if copied is None:  # re-encoded to 4:2:0 H.264: even dimensions
        assert (streams["video"]["width"], streams["video"]["height"]) == (320, 180)
    assert streams["audio"]["codec_name"] == "aac" and int(streams["audio"]["channels"]) == 2
    # The audio starts with the picture (Matroska shows AAC's encoder priming as one frame before 0).
    assert abs(float(streams["audio"].get("start_time", 0))) <= 1024 / 44100 + 1e-3
    with av.open(str(out)) as container:  # the picture is cut where the input's length says, to a frame
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - 3.5 * 25) <= 3
    assert abs(float(streams["format"]["duration"]) - 3.5) <= 0.25
    assert not list(tmp_path.glob(".*partial*"))


def test_the_music_mixed_over_the_original_stays_stereo_and_in_range(tmp_path: Path, music: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", seconds=4.0)
    out = mux_soundtrack(src, music, tmp_path / "o.mp4", duration_s=4.0, original_audio_gain=0.5)
    streams = played(out)
    assert int(streams["audio"]["channels"]) == 2
    with av.open(str(out)) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert abs(samples.shape[1] / 44100 - 4.0) < 0.05
    assert 0.01 < float(np.sqrt((samples**2).mean())) and float(abs(samples).max()) <= 1.0


def test_the_mux_uses_no_ffmpeg_command(tmp_path: Path, music: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One FFmpeg: no `ffmpeg` on PATH, and the mux still writes a playable file."""
    src = make_clip(tmp_path / "in.mp4", seconds=3.0)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = mux_soundtrack(src, music, tmp_path / "o.mp4", duration_s=3.0)
    monkeypatch.undo()
    assert played(out)["video"]["codec_name"] == "h264"


def test_a_failed_mux_leaves_no_file(tmp_path: Path, music: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", seconds=3.0)
    with pytest.raises(InputError, match="output must end"):
        mux_soundtrack(src, music, tmp_path / "o.avi", duration_s=3.0)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "o.mp4").mkdir()  # the final name is a folder: the write fails, the temp file goes
    with pytest.raises(OSError):
        mux_soundtrack(src, music, tmp_path / "sub" / "o.mp4", duration_s=3.0)
    assert not list((tmp_path / "sub").glob(".*partial*"))


def _polyglot(path: Path) -> Path:
    """An MPEG-TS with an HLS playlist's text in front: `#EXTM3U` and an entry naming another file."""
    ts = path.with_name("plain.ts")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-f", "mpegts", str(ts))
    header = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n/etc/passwd\n#EXT-X-ENDLIST\n"
    path.write_bytes(header + ts.read_bytes())
    ts.unlink()
    return path


def test_an_hls_ts_polyglot_is_handled_the_same_at_probe_and_mux(tmp_path: Path, music: Path) -> None:
    """Probe and mux open it with one FFmpeg and one demuxer: it is read as the MPEG-TS it is (never as a
    playlist: the HLS demuxer is not allowed), or refused at probe. Never accepted and then refused."""
    src = _polyglot(tmp_path / "poly.m3u8")
    try:
        probe = probe_video(src)
    except InputError:
        return  # refused at probe, in one line: consistent
    assert probe.container == "mpegts"
    out = mux_soundtrack(src, music, tmp_path / "o.mp4", duration_s=probe.duration_s)
    assert played(out)["video"]["codec_name"] == "h264"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["concat:rel.mp4", "http:x.mp4", "poly.ts"])
def test_names_like_protocols_and_a_polyglot_get_a_soundtrack(name: str, tmp_path: Path, isolated_settings: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    clip = _polyglot(tmp_path / name) if name == "poly.ts" else make_clip(tmp_path / name, seconds=3.0)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["soundtrack", clip.name, "--out", "o.mp4", *FIXED, "--json"])
    assert result.exit_code == 0, result.output
    streams = played(tmp_path / "o.mp4")
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert abs(float(streams["format"]["duration"]) - json.loads(result.stdout)["input"]["duration_s"]) <= 0.25
