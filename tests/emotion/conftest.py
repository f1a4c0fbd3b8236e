from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data

sys.path.insert(0, str(Path(__file__).parent))

from media import busy_drums, calm_tone, write_video  # noqa: E402

from emsync_models.emotion.analyzer import EmotionAnalyzer  # noqa: E402
from emsync_models.emotion.api import build_extractors  # noqa: E402


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("emotion-media")


@pytest.fixture(scope="session")
def astronaut_video(media_dir) -> tuple[Path, list[float], float]:
    """4 s of the smiling astronaut portrait, cut, 4 s of a coffee cup (no face); calm audio."""
    path = media_dir / "astronaut_then_coffee.mp4"
    duration = write_video(path, [(skimage.data.astronaut(), 4.0), (skimage.data.coffee(), 4.0)],
                           size=(640, 360), fps=12, audio=calm_tone)
    return path, [4.0], duration


@pytest.fixture(scope="session")
def default_analyzer() -> EmotionAnalyzer:
    """Default extractors without OCR (tested on its own; it is the slow one) and the default head."""
    return EmotionAnalyzer(build_extractors(text=False))


def make_class_dataset(root: Path, per_class: int = 8) -> Path:
    """Three classes whose videos differ the way real footage does: light, colour, motion, sound."""
    rng = np.random.default_rng(0)
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    for label in ("joy", "sadness", "anger"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo = photos[(i + rng.integers(4)) % len(photos)].astype(np.float32)
            if label == "joy":      # bright, warm, lively
                img, audio = np.clip(photo * 1.3 + 40, 0, 255), busy_drums
            elif label == "sadness":  # dark, blue, quiet
                img, audio = photo * 0.35 * np.array([0.7, 0.8, 1.2]), calm_tone
            else:                     # red and loud
                img, audio = np.clip(photo * np.array([1.4, 0.5, 0.5]), 0, 255), busy_drums
            seconds = 1.5 + 0.5 * rng.random()
            write_video(root / label / f"{label}_{i}.mp4", [(img.astype(np.uint8), seconds)],
                        size=(256, 144), fps=8, audio=audio)
    return root
