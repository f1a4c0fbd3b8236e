"""The models the jobs use, loaded once per process from the checkpoints that settings name."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.settings import Settings


def emotion_analyzer(settings: Settings) -> Any:  # noqa: ANN401 - EmotionAnalyzer, imported lazily
    return _emotion_analyzer(settings.emotion_checkpoint, settings.cache_dir / "features")


def music_generator(settings: Settings) -> Any:  # noqa: ANN401 - MusicGenerator, imported lazily
    return _music_generator(settings.music_checkpoint)


@lru_cache(maxsize=4)
def _emotion_analyzer(checkpoint: Path | None, cache_dir: Path) -> Any:  # noqa: ANN401
    from emsync_models.emotion.api import load_analyzer

    return load_analyzer(fusion_checkpoint=checkpoint, cache_dir=cache_dir)


@lru_cache(maxsize=4)
def _music_generator(checkpoint: Path | None) -> Any:  # noqa: ANN401
    from emsync_models.music.api import load_generator

    return load_generator(checkpoint)
