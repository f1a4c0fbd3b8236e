"""Low-level visual affect cues per sample: brightness, saturation, colour warmth, motion, cut rate.

Brightness and saturation feed Valdez & Mehrabian's (1994) pleasure/arousal regressions, warmth and
motion/cut rate feed arousal (see `default_head` for the citations). All are computed on a thumbnail,
so they cost almost nothing next to decoding.
"""

from __future__ import annotations

import cv2
import numpy as np

from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.video.media import AudioChunk, VideoFrame

THUMB = (160, 90)
CUT_HIST_DISTANCE = 0.5   # Bhattacharyya distance of hue/sat histograms that counts as a cut


class VisualAffectExtractor(Extractor):
    """dim 5, per sampled frame: brightness, saturation, warmth, motion energy, cut rate.

    brightness, saturation in [0, 1]; warmth = mean(R - B) in [-1, 1]; motion = mean |grey diff|
    between consecutive samples scaled to [0, 1] (x4, clipped); cut rate = (cut since the previous
    sample) x rate_hz, so its mean over any window is cuts per second.
    """

    name = "visual"
    version = "visual-affect/v3"
    dim = 5
    input = "frames"

    def __init__(self, rate_hz: float = 4.0) -> None:
        self.rate_hz = rate_hz
        self.begin()

    def begin(self) -> None:
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []
        self._prev_grey: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None

    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, VideoFrame)
        small = cv2.resize(item.rgb, THUMB, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        rgbf = small.astype(np.float32) / 255.0
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
        cv2.normalize(hist, hist)
        motion, cut = 0.0, 0.0
        if self._prev_grey is not None and self._prev_hist is not None:
            motion = float(min(1.0, 4.0 * np.abs(grey - self._prev_grey).mean()))
            distance = cv2.compareHist(self._prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA)
            cut = 1.0 if distance > CUT_HIST_DISTANCE else 0.0
            if cut:
                motion = 0.0   # a cut is counted as a cut; as motion it would inflate short scenes
        self._prev_grey, self._prev_hist = grey, hist
        row = np.array([hsv[..., 2].mean() / 255.0, hsv[..., 1].mean() / 255.0,
                        (rgbf[..., 0] - rgbf[..., 2]).mean(), motion, cut * self.rate_hz], np.float32)
        self._times.append(item.t)
        self._rows.append(row)

    def finish(self, duration_s: float) -> FeatureTrack:
        return FeatureTrack.from_rows(self._times, self._rows, [True] * len(self._times), self.dim)
