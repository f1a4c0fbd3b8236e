"""Scene cuts with PySceneDetect: the boundaries the music changes chord on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector
from scenedetect.detectors import content_detector

from emsync_models.video.cut_config import CutConfig


def mean_pixel_distance(left: np.ndarray, right: np.ndarray) -> float:
    """PySceneDetect's per-channel score, the mean absolute difference of two 8-bit planes, in one
    OpenCV call: the same value (an exact integer sum over the pixel count) 16x faster than its
    numpy version, which widens both planes to int32 three times a frame."""
    assert left.shape == right.shape and left.ndim == 2
    return float(cv2.norm(left, right, cv2.NORM_L1)) / float(left.shape[0] * left.shape[1])


# ContentDetector (and AdaptiveDetector, built on it) look this function up in their module on every
# frame; ours returns identical numbers (tests/foundation/test_cut_speed.py), so cut times cannot move.
LIBRARY_MEAN_PIXEL_DISTANCE = content_detector._mean_pixel_distance  # for benchmarks/decode.py's "before"
content_detector._mean_pixel_distance = mean_pixel_distance


def make_detector(config: CutConfig, fps: float) -> ContentDetector | AdaptiveDetector:
    min_frames = max(1, round(config.min_scene_len_s * fps))
    if config.detector == "adaptive":
        return AdaptiveDetector(adaptive_threshold=config.adaptive_threshold, min_scene_len=min_frames)
    return ContentDetector(threshold=config.content_threshold, min_scene_len=min_frames)


def detect_cuts(path: Path, fps: float | None = None, config: CutConfig = CutConfig(), threads: int = 1) -> list[float]:
    """Times in seconds where a new scene starts (the first scene's start, 0, is not a cut).

    Decodes `path` on its own; the soundtrack job gets its cuts from the one decode pass instead
    (`single_pass.SinglePass`), which this calls without the emotion sampling. `fps` is unused (the
    stream's own rate times the frames, as PySceneDetect does) and kept for callers.
    """
    from emsync_models.video.single_pass import SinglePass

    cuts = SinglePass(path, config, sample_hz=None, audio=False, threads=threads).run().cuts_s
    assert cuts is not None
    return cuts


def scene_spans(cuts_s: list[float], duration_s: float) -> list[tuple[float, float]]:
    """(start, end) of every scene given the cuts: n cuts make n + 1 scenes."""
    edges = [0.0, *[c for c in cuts_s if 0.0 < c < duration_s], duration_s]
    return list(zip(edges[:-1], edges[1:], strict=True))
