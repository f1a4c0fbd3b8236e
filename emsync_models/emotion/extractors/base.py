"""The one interface every frozen feature extractor implements.

An extractor consumes a stream (frames at its own rate, or 16 kHz mono audio) and returns a
FeatureTrack: one feature vector per time step plus a mask saying which steps carry evidence
(a frame with no face, a second with no text). Streaming lets one decode pass feed every extractor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from emsync_models.video.media import AudioChunk, VideoFrame


@dataclass
class FeatureTrack:
    """Per-time-step features of one modality over a whole video.

    times_s float32 [T]    step centre times in seconds, increasing
    values  float32 [T, D] features (zeros where mask is False)
    mask    bool    [T]    True where the step carries evidence
    spans   [(start_s, end_s, text)]  what was read or heard, for the report (words extractors only)
    """

    times_s: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    spans: list[tuple[float, float, str]] = field(default_factory=list)

    @classmethod
    def empty(cls, dim: int) -> FeatureTrack:
        return cls(np.zeros(0, np.float32), np.zeros((0, dim), np.float32), np.zeros(0, bool))

    @classmethod
    def from_rows(cls, times: list[float], rows: list[np.ndarray], mask: list[bool], dim: int,
                  spans: list[tuple[float, float, str]] | None = None) -> FeatureTrack:
        if not times:
            return cls(*cls.empty(dim).arrays(), list(spans or []))
        return cls(np.asarray(times, np.float32), np.stack(rows).astype(np.float32).reshape(len(times), dim),
                   np.asarray(mask, bool), list(spans or []))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.times_s, self.values, self.mask

    def texts_between(self, start_s: float, end_s: float) -> list[str]:
        """Distinct span texts whose middle falls in [start_s, end_s), in time order."""
        out: list[str] = []
        for a, b, text in sorted(self.spans):
            if start_s <= (a + b) / 2 < end_s and text and text not in out:
                out.append(text)
        return out


class Extractor(ABC):
    """A frozen feature extractor. Subclasses set the four class attributes and the three methods.

    name     key of the modality ("face", "audio", ...); also the fused-input tensor name
    version  bumped whenever outputs change: the cache key includes it
    dim      feature size D
    input    "frames" (gets VideoFrame at `rate_hz`) or "audio" (gets every AudioChunk)
    """

    name: str
    version: str
    dim: int
    input: Literal["frames", "audio"]
    rate_hz: float = 1.0

    @abstractmethod
    def begin(self) -> None:
        """Reset per-video state."""

    @abstractmethod
    def add(self, item: VideoFrame | AudioChunk) -> None:
        """Consume one frame or audio chunk."""

    @abstractmethod
    def finish(self, duration_s: float) -> FeatureTrack:
        """Return the track for the video just streamed."""

    def helper_cpu_s(self) -> float:
        """CPU seconds spent for the last video in helper processes (outside this process's clock)."""
        return 0.0
