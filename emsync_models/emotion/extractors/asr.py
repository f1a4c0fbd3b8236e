"""Offline speech recognition: pocketsphinx 5 with the English models inside its wheel, decoding one
speech segment at a time, in this process or in one helper process beside it.

pocketsphinx holds the GIL while it decodes, so a thread would not overlap it with the frame
extractors; a helper process does, when the job's thread budget gives it a second core.
Kept free of numpy/torch imports: the helper process imports only this module.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

# Search limits, measured on 60 s of Festival narration over a loud drum bed (45 s of speech) and on
# the same speech clean (`emsync_models/emotion/README.md`, "Speech recognition speed"): pocketsphinx's
# defaults (maxhmmpf 30000, no per-frame word limit) took 16.0/8.9 CPU-s at WER 0.40/0.06; these took
# 9.4/6.0 CPU-s at WER 0.35/0.06. Narrower beams or no second pass were faster still but lost words
# under music (WER 0.55-0.65).
DECODER_OPTIONS: dict[str, Any] = {"maxhmmpf": 5000, "maxwpf": 5}


def words_only(hypothesis: str) -> str:
    """Filler and noise tokens (<sil>, [NOISE], ++UH++) are not words."""
    return " ".join(w for w in hypothesis.split() if w.isalpha() or "'" in w)


class Transcriber:
    """One pocketsphinx decoder; `transcribe` turns 16 kHz mono s16le PCM into words."""

    def __init__(self, **options: Any) -> None:  # noqa: ANN401 - pocketsphinx config values
        import pocketsphinx

        self.decoder = pocketsphinx.Decoder(loglevel="FATAL", **{**DECODER_OPTIONS, **options})

    def transcribe(self, pcm: bytes) -> str:
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return words_only(hyp.hypstr.strip()) if hyp is not None else ""


_helper: Transcriber | None = None


def _start_helper() -> None:
    global _helper
    _helper = Transcriber()


def _helper_transcribe(pcm: bytes) -> tuple[str, float]:
    """(words, CPU seconds the helper spent): the caller adds the CPU to its own accounts."""
    assert _helper is not None, "helper process started without its decoder"
    cpu = time.process_time()
    return _helper.transcribe(pcm), time.process_time() - cpu


class HelperTranscriber:
    """A Transcriber in one spawned helper process; segments queue there while the caller goes on.

    Spawned, not forked: the caller may hold torch/OpenMP threads, which do not survive a fork.
    """

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start_helper)
        # Start it now (process and decoder load belong to the cold start, not the first video).
        self._pool.submit(_helper_transcribe, bytes(3200)).result()  # 0.1 s of silence

    def submit(self, pcm: bytes) -> Future[tuple[str, float]]:
        return self._pool.submit(_helper_transcribe, pcm)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Segment:
    start: float
    end: float
    text: str | None = None  # None until transcribed
    future: Future[tuple[str, float]] | None = None  # the helper's answer, while awaited
    pcm: bytes | None = None  # kept while awaited: a dead helper's segment is decoded here


class SegmentQueue:
    """Speech segments in time order, transcribed inline or by a helper, with bounded memory.

    With a helper, at most `max_in_flight` segments' PCM waits in memory: adding one more first
    waits for the oldest, so a long monologue cannot pile up faster than it is decoded.
    """

    def __init__(self, inline: Transcriber, helper: HelperTranscriber | None, max_in_flight: int = 4) -> None:
        self.inline = inline
        self.helper = helper
        self.max_in_flight = max_in_flight
        self.helper_cpu_s = 0.0
        self._items: list[_Segment] = []

    def add(self, start: float, end: float, pcm: bytes) -> None:
        if self.helper is None:
            self._items.append(_Segment(start, end, self.inline.transcribe(pcm)))
            return
        self._items.append(_Segment(start, end, None, self.helper.submit(pcm), pcm))
        pending = [item for item in self._items if item.future is not None]
        for item in pending[: max(0, len(pending) - self.max_in_flight)]:
            self._resolve(item)
        for item in pending:
            if item.future is not None and item.future.done():
                self._resolve(item)

    def _resolve(self, item: _Segment) -> None:
        assert item.future is not None and item.pcm is not None
        try:
            text, cpu = item.future.result()
            self.helper_cpu_s += cpu
        except Exception:  # noqa: BLE001 - a dead helper must not lose the segment: decode it here
            text = self.inline.transcribe(item.pcm)
        item.text, item.future, item.pcm = text, None, None

    def results(self) -> list[tuple[float, float, str]]:
        """(start, end, words) of every segment with words, waiting for the helper where needed."""
        for item in self._items:
            if item.future is not None:
                self._resolve(item)
        return [(float(item.start), float(item.end), item.text) for item in self._items if item.text]
