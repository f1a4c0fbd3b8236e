"""Settings -> the inference client the jobs use (serving/ never reads settings; this is the bridge).

    check_models_ready(settings)               # at a flow's start: fail fast if the server is down
    client = inference_client(settings)        # one per process and configuration, ready-checked
    analyzer = emotion_analyzer(settings)      # EmotionAnalyzer with the client's fusion predictor
    generator = music_generator(settings)      # the music contract: generate()/name/version (MusicGenerator)

With `model_backend="triton"`, `inference_client` checks the server's readiness before returning, so a
flow fails at its start with `ServingUnavailable` (an infrastructure error it may retry and must
record) instead of halfway through a video.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from emsync_models.errors import InputError
from emsync_models.music.request import MusicGenerator
from flows.settings import Settings
from serving.client import InferenceClient


def check_models_ready(settings: Settings) -> None:
    """Call first thing in a flow: raises ServingUnavailable (after bounded retries) if the configured
    model server cannot serve, so the flow records that failure before doing any work."""
    inference_client(settings)


def make_inference_client(settings: Settings) -> InferenceClient:
    """A new client for `settings.model_backend` (not ready-checked; see `inference_client`)."""
    if settings.model_backend == "triton":
        from serving.triton_http import TritonHttpClient

        if settings.music_model != "v1":
            raise InputError("EMSYNC_MUSIC_MODEL", "Triton's midi_generator serves v1 in this build; "
                             "use EMSYNC_MODEL_BACKEND=inprocess for v2")

        return TritonHttpClient(settings.triton_url, timeout_s=settings.triton_timeout_s,
                                retries=settings.triton_retries)
    from serving.inprocess import InProcessClient

    return InProcessClient(emotion_checkpoint=settings.emotion_checkpoint,
                           music_checkpoint=settings.music_checkpoint, music_model=settings.music_model)


def inference_client(settings: Settings) -> InferenceClient:
    """The process-wide client for these settings, checked ready (raises ServingUnavailable)."""
    return _cached_client(settings.model_backend, settings.triton_url, settings.triton_timeout_s,
                          settings.triton_retries, settings.emotion_checkpoint, settings.music_checkpoint,
                          settings.music_model)


@lru_cache(maxsize=4)
def _cached_client(backend: str, url: str, timeout_s: float, retries: int, emotion_checkpoint: Path | None,
                   music_checkpoint: Path | None, music_model: str = "v2") -> InferenceClient:
    # Keyed on the fields that matter (Settings is not hashable); a failed readiness check is an
    # exception, so lru_cache keeps no broken client and the next call checks again.
    settings = Settings(model_backend=backend, triton_url=url, triton_timeout_s=timeout_s, triton_retries=retries,
                        emotion_checkpoint=emotion_checkpoint, music_checkpoint=music_checkpoint,
                        music_model=music_model)
    client = make_inference_client(settings)
    client.wait_ready()
    return client


def emotion_analyzer(settings: Settings) -> Any:  # noqa: ANN401 - EmotionAnalyzer, imported lazily
    """The analyzer for these settings, built once per process (its extractors load models)."""
    return _cached_analyzer(settings.model_backend, settings.triton_url, settings.triton_timeout_s,
                            settings.triton_retries, settings.emotion_checkpoint, settings.music_checkpoint,
                            settings.cache_dir / "features", settings.clip_weights, settings.audio_tagger_weights,
                            settings.asr_weights)


@lru_cache(maxsize=4)
def _cached_analyzer(backend: str, url: str, timeout_s: float, retries: int, emotion_checkpoint: Path | None,
                     music_checkpoint: Path | None, cache_dir: Path, clip_weights: Path | None,
                     audio_tagger_weights: Path | None, asr_weights: Path | None) -> Any:  # noqa: ANN401
    from emsync_models.emotion.api import load_analyzer

    client = _cached_client(backend, url, timeout_s, retries, emotion_checkpoint, music_checkpoint)
    return load_analyzer(fusion_checkpoint=emotion_checkpoint, cache_dir=cache_dir, clip_weights=clip_weights,
                         audio_tagger_weights=audio_tagger_weights, asr_weights=asr_weights,
                         predictor=client.emotion_predictor())


def music_generator(settings: Settings) -> MusicGenerator:
    """The music contract's generator: the loaded model in-process, a Triton adapter otherwise."""
    return inference_client(settings).music_generator()
