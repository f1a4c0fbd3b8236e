"""Speech recognition in this process and in the helper process: same words, bounded, and a dead helper
loses no segment."""

from __future__ import annotations

import numpy as np
import pytest
from emotion_media import festival_speech

from emsync_models.emotion.extractors.asr import HelperTranscriber, SegmentQueue, Transcriber
from emsync_models.emotion.extractors.speech import SpeechExtractor
from emsync_models.video.media import AUDIO_RATE, AudioChunk

SENTENCES = ("I am terrified of the dark", "What a wonderful day, I love it", "We lost everything in the fire")


@pytest.fixture(scope="module")
def narration() -> np.ndarray:
    gap = np.zeros(AUDIO_RATE, np.float32)
    return np.concatenate([gap, *[np.concatenate([festival_speech(s, AUDIO_RATE), gap]) for s in SENTENCES]])


def transcribe(extractor: SpeechExtractor, audio: np.ndarray) -> tuple[list[tuple[float, float, str]], np.ndarray]:
    extractor.begin()
    step = AUDIO_RATE // 25  # chunks as the demuxer delivers them
    for i in range(0, audio.size, step):
        extractor.add(AudioChunk(i / AUDIO_RATE, audio[i:i + step]))
    track = extractor.finish(audio.size / AUDIO_RATE)
    return track.spans, track.values


def test_helper_process_hears_what_inline_hears(narration):
    inline = SpeechExtractor(helper=False)
    helper = SpeechExtractor(helper=True)
    try:
        assert inline.helper is None and helper.helper is not None
        spans, values = transcribe(inline, narration)
        helper_spans, helper_values = transcribe(helper, narration)
        assert len(spans) == len(SENTENCES)
        assert "terrified" in spans[0][2] and "fire" in spans[-1][2]
        assert helper_spans == spans
        np.testing.assert_allclose(helper_values, values, atol=1e-6)
        # The helper's decoding time is counted, not lost to the process clock.
        assert helper.helper_cpu_s() > 0.1 and inline.helper_cpu_s() == 0.0
        # Per-video state: a second video starts from nothing.
        assert transcribe(helper, np.zeros(AUDIO_RATE * 2, np.float32))[0] == []
    finally:
        helper.close()


def test_dead_helper_loses_no_segment(narration):
    pcm = (np.clip(narration, -1, 1) * 32767).astype("<i2").tobytes()
    helper = HelperTranscriber()
    queue = SegmentQueue(Transcriber(), helper, max_in_flight=1)
    try:
        for process in helper._pool._processes.values():  # the helper dies mid-job (OOM killer, kill -9)
            process.kill()
        queue.add(0.0, 1.0, pcm)
        queue.add(1.0, 2.0, pcm)
        texts = [text for _, _, text in queue.results()]
        assert len(texts) == 2 and all("terrified" in t for t in texts)
    finally:
        helper.close()


def test_in_flight_segments_are_bounded(narration):
    pcm = (np.clip(narration[: AUDIO_RATE * 4], -1, 1) * 32767).astype("<i2").tobytes()
    helper = HelperTranscriber()
    queue = SegmentQueue(Transcriber(), helper, max_in_flight=2)
    try:
        for i in range(5):
            queue.add(float(i), i + 1.0, pcm)
            assert sum(item.pcm is not None for item in queue._items) <= 3  # the new one + max_in_flight
        assert len(queue.results()) == 5
    finally:
        helper.close()
