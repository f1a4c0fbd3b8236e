"""Scene cuts with PySceneDetect: the boundaries the music changes chord on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scenedetect import AdaptiveDetector, ContentDetector, SceneManager
from scenedetect.backends.pyav import VideoStreamAv

from emsync_models.video import safe_media


@dataclass(frozen=True)
class CutConfig:
    detector: Literal["adaptive", "content"] = "content"
    content_threshold: float = 27.0
    adaptive_threshold: float = 3.0
    min_scene_len_s: float = 0.5


def detect_cuts(path: Path, fps: float, config: CutConfig = CutConfig()) -> list[float]:
    """Times in seconds where a new scene starts (the first scene's start, 0, is not a cut)."""
    min_frames = max(1, round(config.min_scene_len_s * fps))
    if config.detector == "adaptive":
        detector = AdaptiveDetector(adaptive_threshold=config.adaptive_threshold, min_scene_len=min_frames)
    else:
        detector = ContentDetector(threshold=config.content_threshold, min_scene_len=min_frames)
    with open(path, "rb") as handle:
        # PySceneDetect opens no options of ours, so the very file it will read (this handle, not the
        # name, which could be swapped meanwhile) is first checked to be a single-file container.
        safe_media.check_handle(path, handle)
        video = VideoStreamAv(handle, name=path.stem)
        manager = SceneManager()
        manager.add_detector(detector)
        manager.detect_scenes(video=video, show_progress=False)
        scenes = manager.get_scene_list(start_in_scene=True)
    return [round(start.seconds, 6) for start, _ in scenes[1:]]


def scene_spans(cuts_s: list[float], duration_s: float) -> list[tuple[float, float]]:
    """(start, end) of every scene given the cuts: n cuts make n + 1 scenes."""
    edges = [0.0, *[c for c in cuts_s if 0.0 < c < duration_s], duration_s]
    return list(zip(edges[:-1], edges[1:], strict=True))
