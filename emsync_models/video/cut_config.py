"""What moves scene cuts: the detector and its thresholds. Kept free of OpenCV and PySceneDetect so
that settings can take their defaults from here without loading a decoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ANALYSIS_WIDTH = 256  # PySceneDetect's DEFAULT_MIN_WIDTH: the width its auto-downscale aims for


@dataclass(frozen=True)
class CutConfig:
    detector: Literal["adaptive", "content"] = "content"
    content_threshold: float = 27.0
    adaptive_threshold: float = 3.0
    min_scene_len_s: float = 0.5
    analysis_width: int = ANALYSIS_WIDTH
