"""One decode per video: cuts, the frame-count check and emotion's samples from the same pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenedetect import ContentDetector, SceneManager, open_video

from emsync_models.errors import InputError
from emsync_models.video.media import AudioChunk, VideoFrame
from emsync_models.video.probe import probe_video
from emsync_models.video.sample import build_sample_video, sample_cut_times
from emsync_models.video.single_pass import SinglePass, analysis_size, decoder_threads, detect_cuts
from tests.media import damaged_ts


def pyscenedetect_cuts(path: Path, fps: float) -> list[float]:
    """PySceneDetect on its own (full-size decode, its own downscale): what the single pass replaces."""
    manager = SceneManager()
    manager.add_detector(ContentDetector(threshold=27.0, min_scene_len=max(1, round(0.5 * fps))))
    manager.detect_scenes(video=open_video(str(path), backend="pyav"), show_progress=False)
    return [round(s.seconds, 6) for s, _ in manager.get_scene_list(start_in_scene=True)[1:]]


@pytest.fixture(scope="module")
def moving_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The photo sample (slow zooms, hard cuts) at a small size: real picture content, not flat colour."""
    return build_sample_video(tmp_path_factory.mktemp("sample") / "s.mp4", width=480, height=270).path


def test_analysis_size_matches_pyscenedetects_downscale() -> None:
    assert analysis_size(1280, 720) == (256, 144)
    assert analysis_size(720, 1280) == (144, 256)
    assert analysis_size(200, 100) == (200, 100)


def test_cuts_match_pyscenedetect_within_one_frame(clip_with_cuts: Path, moving_sample: Path) -> None:
    for path in (clip_with_cuts, moving_sample):
        fps = probe_video(path).fps
        ours, theirs = detect_cuts(path), pyscenedetect_cuts(path, fps)
        assert len(ours) == len(theirs), (path.name, ours, theirs)
        assert all(abs(a - b) <= 1 / fps + 1e-6 for a, b in zip(ours, theirs, strict=True)), (ours, theirs)
    assert len(detect_cuts(moving_sample)) == len(sample_cut_times())


def test_the_thread_budget_changes_speed_not_results(moving_sample: Path) -> None:
    """A budget of 1 decodes on one thread (a fleet worker); 2+ keeps two frames in flight per core."""
    assert [decoder_threads(b) for b in (1, 2, 4)] == [1, 4, 8]
    passes = [SinglePass(moving_sample, sample_hz=1.0, threads=budget).run() for budget in (1, 2)]
    assert passes[0].cuts_s == passes[1].cuts_s and passes[0].frames == passes[1].frames


def test_one_pass_feeds_emotion_and_counts_frames(clip_with_cuts: Path) -> None:
    probe = probe_video(clip_with_cuts)
    one = SinglePass(clip_with_cuts, sample_hz=2.0, max_side=160, audio=True,
                     expected_duration_s=probe.duration_s)
    items = list(one)
    frames = [i for i in items if isinstance(i, VideoFrame)]
    audio = [i for i in items if isinstance(i, AudioChunk)]
    assert len(frames) == 18 and all(abs(f.t - 0.5 * k) <= 1 / 25 + 1e-6 for k, f in enumerate(frames))
    assert frames[0].rgb.shape == (90, 160, 3)
    assert sum(a.samples.size for a in audio) == pytest.approx(9.0 * 16000, rel=0.02)
    assert one.frames == 225 and one.duration_s == pytest.approx(9.0, abs=0.05)
    assert one.cuts_s == pytest.approx([3.0, 6.0], abs=0.04)
    assert one.run() is one, "draining a finished pass decodes nothing more"
    with pytest.raises(RuntimeError):
        list(one)


def test_probe_reads_headers_only_and_the_pass_finds_damage(tmp_path: Path) -> None:
    damaged = damaged_ts(tmp_path / "damaged.ts")
    probe = probe_video(damaged)  # the headers are intact: no frame is decoded here
    assert probe.duration_s > 3
    with pytest.raises(InputError, match="damaged.ts.*corrupt"):
        SinglePass(damaged, sample_hz=None, audio=False, expected_duration_s=probe.duration_s).run()
