"""Scene cuts with PySceneDetect: the boundaries the music changes chord on."""

from __future__ import annotations

import cv2
import numpy as np
import scenedetect
from scenedetect import AdaptiveDetector, ContentDetector
from scenedetect.detectors import content_detector

from emsync_models.video.cut_config import CutConfig


def mean_pixel_distance(left: np.ndarray, right: np.ndarray) -> float:
    """PySceneDetect's per-channel score, the mean absolute difference of two 8-bit planes, in one
    OpenCV call: the same value (an exact integer sum over the pixel count) 16x faster than its
    numpy version, which widens both planes to int32 three times a frame."""
    assert left.shape == right.shape and left.ndim == 2
    return float(cv2.norm(left, right, cv2.NORM_L1)) / float(left.shape[0] * left.shape[1])


LIBRARY_MEAN_PIXEL_DISTANCE = content_detector._mean_pixel_distance  # for benchmarks/decode.py's "before"
# The scenedetect releases whose `_mean_pixel_distance` was checked to have the formula above (major, minor).
FAST_DISTANCE_CHECKED = frozenset({(0, 7)})


def install_fast_distance() -> bool:
    """Have PySceneDetect score frames with `mean_pixel_distance`, on a release it was checked against.

    ContentDetector (and AdaptiveDetector, built on it) look `_mean_pixel_distance` up in their module
    on every frame; ours returns identical numbers (tests/emsync_models/video/test_cuts.py), so cut times
    cannot move. Done where a detector is made, not at import, so that importing this module changes
    nothing; any other release keeps its own function. Returns whether ours is in place.
    """
    release = tuple(int(part) for part in scenedetect.__version__.split(".")[:2] if part.isdigit())
    if release not in FAST_DISTANCE_CHECKED or not hasattr(content_detector, "_mean_pixel_distance"):
        return False
    content_detector._mean_pixel_distance = mean_pixel_distance
    return True


def make_detector(config: CutConfig, fps: float) -> ContentDetector | AdaptiveDetector:
    install_fast_distance()
    min_frames = max(1, round(config.min_scene_len_s * fps))
    if config.detector == "adaptive":
        return AdaptiveDetector(adaptive_threshold=config.adaptive_threshold, min_scene_len=min_frames)
    return ContentDetector(threshold=config.content_threshold, min_scene_len=min_frames)


def scene_spans(cuts_s: list[float], duration_s: float) -> list[tuple[float, float]]:
    """(start, end) of every scene given the cuts: n cuts make n + 1 scenes."""
    edges = [0.0, *[c for c in cuts_s if 0.0 < c < duration_s], duration_s]
    return list(zip(edges[:-1], edges[1:], strict=True))
