from __future__ import annotations

from pathlib import Path

import pytest

from emsync_models.errors import InputError
from emsync_models.video.cuts import scene_spans
from emsync_models.video.probe import content_hash, probe_video
from emsync_models.video.single_pass import detect_cuts
from tests.media import ffmpeg, make_clip


def test_probe_reports_streams_and_duration(clip_with_cuts: Path) -> None:
    probe = probe_video(clip_with_cuts)
    assert probe.width == 320 and probe.height == 180
    assert probe.fps == pytest.approx(25.0)
    assert probe.duration_s == pytest.approx(9.0, abs=0.05)
    assert probe.frame_count == 225
    assert probe.has_audio and probe.audio_codec == "aac"


def test_cuts_found_at_colour_changes(clip_with_cuts: Path) -> None:
    cuts = detect_cuts(clip_with_cuts, 25.0)
    assert cuts == pytest.approx([3.0, 6.0], abs=2 / 25)


def test_scene_spans_cover_the_video() -> None:
    assert scene_spans([3.0, 6.0], 9.0) == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)]
    assert scene_spans([], 5.0) == [(0.0, 5.0)]


def test_content_hash_is_stable(tmp_path: Path) -> None:
    a = make_clip(tmp_path / "a.mp4", seconds=1.0)
    assert content_hash(a) == content_hash(a) and len(content_hash(a)) == 64


def test_probe_rejects_audio_only(tmp_path: Path) -> None:
    wav = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(wav))
    with pytest.raises(InputError, match="audio-only"):
        probe_video(wav)
