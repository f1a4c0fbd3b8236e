from __future__ import annotations

import numpy as np
import skimage.data
from emotion_media import busy_drums, write_video

from emsync_models.emotion.sampling import probe_duration, stream_media
from emsync_models.video.media import AUDIO_RATE, AudioChunk, VideoFrame


def test_streams_frames_at_rate_and_mono_16k_audio(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, [(skimage.data.astronaut(), 3.0)], size=(320, 180), fps=10, audio=busy_drums,
                sample_rate=22050)
    assert abs(probe_duration(path) - 3.0) < 0.2
    items = list(stream_media(path, fps=2.0, max_side=160))
    frames = [i for i in items if isinstance(i, VideoFrame)]
    chunks = [i for i in items if isinstance(i, AudioChunk)]
    assert [round(f.t, 1) for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert frames[0].rgb.shape == (90, 160, 3) and frames[0].rgb.dtype == np.uint8
    total = sum(c.samples.size for c in chunks)
    assert abs(total / AUDIO_RATE - 3.0) < 0.15          # resampled 22.05 kHz -> 16 kHz, mono
    assert all(c.samples.ndim == 1 and c.samples.dtype == np.float32 for c in chunks)
    assert chunks[1].t == chunks[0].samples.size / AUDIO_RATE


def test_video_without_audio_gives_frames_only(tmp_path):
    path = tmp_path / "silent.mp4"
    write_video(path, [(skimage.data.coffee(), 1.0)], size=(160, 90), fps=8)
    items = list(stream_media(path, fps=4.0))
    assert items and all(isinstance(i, VideoFrame) for i in items)


def test_audio_only_request_on_silent_video_yields_nothing(tmp_path):
    path = tmp_path / "silent.mp4"
    write_video(path, [(skimage.data.coffee(), 1.0)], size=(160, 90), fps=8)
    assert list(stream_media(path, fps=4.0, frames=False)) == []
