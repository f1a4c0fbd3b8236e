"""Video -> VideoEmotion: one streaming decode feeds every extractor, then one fusion call.

Split in two on purpose: `extract` (always in-process: decoding, frozen networks, cache) and
`predict` (the fusion step: an in-process FusionPredictor or any callable with the same signature,
e.g. a Triton client). The batch sent to `predict` has row 0 = the whole video, rows 1.. = scenes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from emsync_models.emotion.cache import FeatureCache, content_hash
from emsync_models.emotion.explain import explain_windows
from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.fused_input import STEPS, FusedBatch, pack_batch
from emsync_models.emotion.predictor import FusionPredictor, PredictFn
from emsync_models.emotion.results import SceneEmotion, VideoEmotion, estimate_from_arrays
from emsync_models.emotion.sampling import probe_duration, stream_media
from emsync_models.errors import InputError
from emsync_models.video.media import AudioChunk, VideoFrame

Progress = Callable[[str, float], None]


def scene_windows(cuts_s: Sequence[float], duration_s: float) -> list[tuple[float, float]]:
    """[(start, end)] between consecutive cuts; cuts outside (0, duration) or duplicated are dropped."""
    inner = sorted({round(float(c), 6) for c in cuts_s if 0.0 < float(c) < duration_s})
    edges = [0.0, *inner, float(duration_s)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a > 1e-6]


def smooth_scenes(probs: np.ndarray, va: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Blend each scene with its neighbours (kernel [w, 1, w], renormalised at the ends).

    Music that jumps from joy to fear on a one-second cutaway sounds broken; a light blend keeps
    scene changes audible while damping single-scene outliers.
    """
    n = probs.shape[0]
    if n < 2 or weight <= 0:
        return probs, va
    kernel = np.eye(n) + weight * (np.eye(n, k=1) + np.eye(n, k=-1))
    kernel /= kernel.sum(axis=1, keepdims=True)
    smoothed = kernel @ probs
    return smoothed / smoothed.sum(axis=1, keepdims=True), kernel @ va


class EmotionAnalyzer:
    """Holds per-video extractor state while it runs; extractions on one instance take turns."""

    def __init__(self, extractors: Sequence[Extractor], predictor: PredictFn | None = None,
                 cache: FeatureCache | None = None, max_side: int = 640, smoothing: float = 0.25,
                 model_name: str | None = None, model_version: str | None = None) -> None:
        self.extractors = list(extractors)
        self.predictor: PredictFn = predictor or FusionPredictor.default()
        self.cache = cache
        self.max_side = max_side
        self.smoothing = smoothing
        # Extractors keep per-video state between begin() and finish(): one extraction at a time per
        # analyzer, so an instance shared by a flow's worker threads cannot interleave two videos.
        self._extract_lock = threading.Lock()
        # Seconds per extractor (+ "decode") in the last extract: wall clock, and CPU time of this
        # process (all its threads), which stays meaningful when other jobs share the cores.
        self.timings: dict[str, float] = {}
        self.cpu_timings: dict[str, float] = {}
        # Resolved per analysis, not here: a remote predictor answers `name` by asking its server.
        self._model_name = model_name
        self._model_version = model_version

    @property
    def model_name(self) -> str:
        return self._model_name or str(getattr(self.predictor, "name", type(self.predictor).__name__))

    @property
    def model_version(self) -> str:
        return self._model_version or str(getattr(self.predictor, "version", "unknown"))

    @property
    def dims(self) -> dict[str, int]:
        """Modalities this analyzer extracts (what a fusion model trained on its features reads)."""
        return {e.name: e.dim for e in self.extractors}

    @property
    def input_dims(self) -> dict[str, int]:
        """Modalities sent to the predictor: the ones it declares (`.dims`, as FusionPredictor and a
        Triton client mirroring the model config do), else everything extracted. A declared modality
        that was not extracted goes as masked zeros."""
        declared = getattr(self.predictor, "dims", None)
        return dict(declared) if declared else self.dims

    @property
    def sample_hz(self) -> float | None:
        """Frames per second the frame extractors need from a decode (None: no frame extractor)."""
        return max((e.rate_hz for e in self.extractors if e.input == "frames"), default=None)

    @property
    def wants_audio(self) -> bool:
        return any(e.input == "audio" for e in self.extractors)

    def extract(self, video: Path, duration_s: float, progress: Progress | None = None,
                media: Iterable[VideoFrame | AudioChunk] | None = None,
                content_key: str | None = None) -> dict[str, FeatureTrack]:
        """Feature tracks for every extractor, from the cache where possible, else one decode pass.

        `media`: frames (at about `sample_hz`, long side at most `max_side`) and 16 kHz mono audio
        decoded by the caller, e.g. a pass that also finds the scene cuts; by default this decodes.
        `content_key`: the video's SHA-256 when the caller already has it (the cache's key; by default
        the file is read and hashed here).
        """
        video = Path(video)
        if not video.is_file():
            raise InputError(video, "no such file")
        key = (content_key or content_hash(video)) if self.cache else ""
        tracks: dict[str, FeatureTrack] = {}
        todo: list[Extractor] = []
        for extractor in self.extractors:
            cached = self.cache.get(key, extractor.name, extractor.version) if self.cache else None
            if cached is not None:
                tracks[extractor.name] = cached
            else:
                todo.append(extractor)
        if not todo:
            return tracks
        with self._extract_lock:
            return self._extract_locked(video, duration_s, key, tracks, todo, progress, media)

    def _extract_locked(self, video: Path, duration_s: float, key: str, tracks: dict[str, FeatureTrack],
                        todo: list[Extractor], progress: Progress | None,
                        media: Iterable[VideoFrame | AudioChunk] | None = None) -> dict[str, FeatureTrack]:
        frame_ex = [e for e in todo if e.input == "frames"]
        audio_ex = [e for e in todo if e.input == "audio"]
        self.timings = {e.name: 0.0 for e in todo}
        self.cpu_timings = dict(self.timings)
        started, cpu_started = time.perf_counter(), time.process_time()
        # Torch and OpenCV run at the process's model budget (emsync_models.threads.MODEL_THREADS), set
        # once at process start: never changed here, where another job may be running beside this one.
        self._stream_into(video, duration_s, frame_ex, audio_ex, progress, media)
        for e in todo:
            with self._timed(e.name):
                tracks[e.name] = e.finish(duration_s)
        # Whatever the extractors did not spend is demuxing, decoding and scaling.
        self.timings["decode"] = time.perf_counter() - started - sum(self.timings.values())
        self.cpu_timings["decode"] = time.process_time() - cpu_started - sum(self.cpu_timings.values())
        for e in todo:
            # Work done in a helper process (speech recognition) is still this extraction's CPU.
            self.cpu_timings[e.name] += e.helper_cpu_s()
        if self.cache:
            for e in todo:
                self.cache.put(key, e.name, e.version, tracks[e.name])
        return tracks

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.timings[name] += time.perf_counter() - wall
            self.cpu_timings[name] += time.process_time() - cpu

    def _stream_into(self, video: Path, duration_s: float, frame_ex: list[Extractor],
                     audio_ex: list[Extractor], progress: Progress | None,
                     media: Iterable[VideoFrame | AudioChunk] | None = None) -> None:
        for e in (*frame_ex, *audio_ex):
            e.begin()
        fps = max((e.rate_hz for e in frame_ex), default=1.0)
        next_due = {id(e): 0.0 for e in frame_ex}
        if media is None:
            media = stream_media(video, fps, self.max_side, audio=bool(audio_ex), frames=bool(frame_ex))
        for item in media:
            if isinstance(item, VideoFrame):
                for e in frame_ex:
                    # Each extractor sees frames at its own rate out of the shared stream.
                    if item.t + 1e-6 >= next_due[id(e)]:
                        with self._timed(e.name):
                            e.add(item)
                        next_due[id(e)] = max(next_due[id(e)] + 1.0 / e.rate_hz, item.t + 0.5 / e.rate_hz)
                if progress and duration_s > 0:
                    progress("extract", min(1.0, item.t / duration_s))
            elif isinstance(item, AudioChunk):
                for e in audio_ex:
                    with self._timed(e.name):
                        e.add(item)

    def fused_batch(self, tracks: dict[str, FeatureTrack], windows: Sequence[tuple[float, float]]) -> FusedBatch:
        return pack_batch(tracks, windows, self.input_dims, STEPS)

    def analyze(self, video: Path, cuts_s: Sequence[float], duration_s: float,
                progress: Progress | None = None, tracks: dict[str, FeatureTrack] | None = None) -> VideoEmotion:
        """`tracks`: what `extract` returned for this video, when the caller extracted first."""
        video = Path(video)
        if duration_s is None or duration_s <= 0:
            duration_s = probe_duration(video)
        if duration_s <= 0:
            raise InputError(video, "has no measurable duration")
        if tracks is None:
            tracks = self.extract(video, duration_s, progress)
        windows = scene_windows(cuts_s, duration_s)
        if progress:
            progress("fuse", 0.0)
        all_windows = [(0.0, duration_s), *windows]
        probs, va = self.predictor(self.fused_batch(tracks, all_windows))
        probs, va = np.asarray(probs, np.float64), np.asarray(va, np.float64)
        scene_probs, scene_va = smooth_scenes(probs[1:], va[1:], self.smoothing)
        explained = explain_windows(tracks, all_windows)
        scenes = [SceneEmotion(a, b, estimate_from_arrays(p, v), transcript=x.transcript,
                               on_screen_text=x.on_screen_text,
                               contributions={m: c.to_dict() for m, c in x.contributions.items()}, why=x.why())
                  for (a, b), p, v, x in zip(windows, scene_probs, scene_va, explained[1:], strict=True)]
        if progress:
            progress("fuse", 1.0)
        return VideoEmotion(overall=estimate_from_arrays(probs[0], va[0]), scenes=scenes,
                            model_name=self.model_name, model_version=self.model_version,
                            extractors={e.name: e.version for e in self.extractors},
                            contributions={m: c.to_dict() for m, c in explained[0].contributions.items()})
