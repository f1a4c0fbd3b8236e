"""Speech: voice-activity segments (pocketsphinx's WebRTC-style endpointer) transcribed offline by
pocketsphinx 5 with the English acoustic model, dictionary and language model inside its wheel.

Audio streams in; each finished speech segment is decoded at once (`asr.SegmentQueue`), in this
process or, when the job's thread budget gives it two or more threads, in a helper process that works
while the frames are analysed; memory holds a few segments (each capped at `max_segment_s`).
A transcript becomes a words feature row (`WordFeatures`: NRC + VADER + MiniLM prototypes, then the
MiniLM embedding), repeated on every second the segment covers so that
the scenes it overlaps see it; the (start, end, transcript) spans go to the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from emsync_models.emotion.extractors.asr import HelperTranscriber, SegmentQueue, Transcriber
from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.extractors.text import MINILM_DIM, TextEncoder, WordFeatures
from emsync_models.emotion.words import EVIDENCE_DIM
from emsync_models.threads import applied_threads
from emsync_models.video.media import AUDIO_RATE, AudioChunk, VideoFrame


class SpeechExtractor(Extractor):
    """dim 392 (as on-screen text): per second covered by speech, the evidence and embedding of its
    segment's transcript; masked elsewhere."""

    name = "speech"
    version = "pocketsphinx-5.1.1-en-us-h5k-w5/minilm-l6-v2/words-v1"
    dim = EVIDENCE_DIM + MINILM_DIM
    input = "audio"

    def __init__(self, encoder: TextEncoder | None = None, words: WordFeatures | None = None,
                 vad_mode: int = 3, max_segment_s: float = 20.0, min_segment_s: float = 0.3,
                 helper: bool | None = None) -> None:
        """`helper`: decode in a helper process (None: when the applied thread budget is 2 or more)."""
        import pocketsphinx

        self._ps = pocketsphinx
        self.words = words or WordFeatures(encoder)
        self.transcriber = Transcriber()
        self.helper: HelperTranscriber | None = None
        if helper if helper is not None else (applied_threads() or 1) >= 2:
            try:
                self.helper = HelperTranscriber()
            except (OSError, RuntimeError):
                self.helper = None  # no second process here (a locked-down sandbox): decode inline
        self.vad_mode = vad_mode
        self.max_segment_s = max_segment_s
        self.min_segment_s = min_segment_s
        self.begin()

    def begin(self) -> None:
        # Aggressive VAD mode: music and effects under a film's speech should not open segments.
        self._endpointer = self._ps.Endpointer(vad_mode=self.vad_mode, sample_rate=AUDIO_RATE)
        self._pending = b""
        self._speech: list[bytes] = []
        self._queue = SegmentQueue(self.transcriber, self.helper)
        self._consumed_s = 0.0
        self._seg_start = 0.0
        self._split_at = 0.0

    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, AudioChunk)
        pcm = (np.clip(item.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        data = self._pending + pcm
        n = self._endpointer.frame_bytes
        whole = len(data) // n * n
        for i in range(0, whole, n):
            self._frame(data[i:i + n])
        self._pending = data[whole:]

    def _frame(self, frame: bytes) -> None:
        ep = self._endpointer
        speech = ep.process(frame)
        self._consumed_s += ep.frame_length
        if speech is None:
            return
        if not self._speech:
            # A segment continuing after a forced split starts where the split was.
            self._seg_start = max(ep.speech_start, self._split_at)
        self._speech.append(speech)
        if not ep.in_speech:
            self._close(self._seg_start, ep.speech_end)
        elif len(self._speech) * ep.frame_length >= self.max_segment_s:
            # A monologue or a speech-like bed would grow without bound: decode what we have.
            self._split_at = self._consumed_s
            self._close(self._seg_start, self._consumed_s)

    def _close(self, start: float, end: float) -> None:
        pcm = b"".join(self._speech)
        self._speech = []
        if end - start < self.min_segment_s or not pcm:
            return
        self._queue.add(float(start), float(end), pcm)

    def transcript(self) -> list[tuple[float, float, str]]:
        return self._queue.results()

    def helper_cpu_s(self) -> float:
        return self._queue.helper_cpu_s

    def close(self) -> None:
        if self.helper is not None:
            self.helper.close()
            self.helper = None

    def finish(self, duration_s: float) -> FeatureTrack:
        ep = self._endpointer
        if self._pending:
            speech = ep.end_stream(self._pending)
            if speech is not None:
                self._speech.append(speech)
            self._pending = b""
        if self._speech:
            self._close(self._seg_start, self._consumed_s)
        segments = self.transcript()
        rows_by_text = self.words.rows([t for _, _, t in segments])
        seconds = max(1, math.ceil(max(duration_s, segments[-1][1] if segments else 0.0)))
        values = np.zeros((seconds, self.dim), np.float32)
        mask = np.zeros(seconds, bool)
        for start, end, text in segments:
            first, last = int(start), max(int(start), math.ceil(end) - 1)
            for s in range(first, min(last, seconds - 1) + 1):
                # A second shared by two segments keeps the one with stronger evidence.
                row = rows_by_text[text]
                if not mask[s] or row[EVIDENCE_DIM - 1] > values[s, EVIDENCE_DIM - 1]:
                    values[s] = row
                mask[s] = True
        times = np.arange(seconds, dtype=np.float32) + 0.5
        return FeatureTrack(times, values, mask, segments)


def voice_spans(chunks: Iterable[AudioChunk], vad_mode: int = 3,
                min_segment_s: float = 0.3) -> list[tuple[float, float]]:
    """(start, end) of each speech segment in 16 kHz mono audio, found by the same endpointer and
    settings as `SpeechExtractor` but without transcribing: where the music ducks when no emotion
    analysis ran (the user fixed valence and arousal)."""
    import pocketsphinx

    endpointer = pocketsphinx.Endpointer(vad_mode=vad_mode, sample_rate=AUDIO_RATE)
    spans: list[tuple[float, float]] = []
    start: float | None = None
    pending = b""

    def note(speech: bytes | None) -> None:
        nonlocal start
        if speech is None:
            return
        if start is None:
            start = endpointer.speech_start
        if not endpointer.in_speech:
            spans.append((float(start), float(endpointer.speech_end)))
            start = None

    for chunk in chunks:
        data = pending + (np.clip(chunk.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        n = endpointer.frame_bytes
        whole = len(data) // n * n
        for i in range(0, whole, n):
            note(endpointer.process(data[i:i + n]))
        pending = data[whole:]
    if pending:
        note(endpointer.end_stream(pending))
    if start is not None:  # speech running at the end of the audio
        spans.append((float(start), float(endpointer.speech_end)))
    return [(s, e) for s, e in spans if e - s >= min_segment_s]
