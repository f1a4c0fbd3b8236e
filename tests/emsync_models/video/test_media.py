"""Mono 16 kHz audio is the same samples, at the same times, however the decoded frames are batched
before resampling, for the sample formats and layouts videos carry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from emsync_models.video.media import AUDIO_RATE, MonoAudio

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


@pytest.mark.parametrize("codec,channels,rate", [("aac", 2, 48000), ("pcm_s16le", 1, 22050),
                                                  ("pcm_s16le", 2, 44100), ("libmp3lame", 2, 44100)])
def test_batched_resampling_gives_the_same_samples(tmp_path: Path, codec: str, channels: int, rate: int):
    path = tmp_path / "a.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f=440:d=2.3:r={rate}",
                    "-c:a", codec, "-ac", str(channels), "-ar", str(rate), str(path)], check=True)
    with av.open(str(path)) as container:
        frames = list(container.decode(container.streams.audio[0]))
    outputs = []
    for batch_s in (0.0, 0.25):
        mono = MonoAudio(batch_s=batch_s)
        chunks = [c for f in frames for c in mono.chunks(f)] + list(mono.chunks(None))
        times = np.array([c.t for c in chunks])
        starts = np.cumsum([0] + [c.samples.size for c in chunks[:-1]]) / AUDIO_RATE
        assert np.allclose(times, starts)  # each chunk is timed by the samples before it
        outputs.append((np.concatenate([c.samples for c in chunks]), len(chunks)))
    (per_frame, n_per_frame), (batched, n_batched) = outputs
    assert abs(per_frame.size - 2.3 * AUDIO_RATE) < 0.05 * AUDIO_RATE
    np.testing.assert_array_equal(per_frame, batched)
    assert n_batched < n_per_frame
