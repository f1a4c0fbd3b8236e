from __future__ import annotations

import sys
from pathlib import Path

import pytest
import skimage.data

sys.path.insert(0, str(Path(__file__).parent))

from emotion_media import calm_tone, write_video  # noqa: E402

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
