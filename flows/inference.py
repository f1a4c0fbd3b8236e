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

from emsync_models.music.request import MusicGenerator
from flows.settings import ModelSettings, Settings
from serving.client import InferenceClient


def check_models_ready(settings: Settings) -> None:
    """Call first thing in a flow: raises ServingUnavailable (after bounded retries) if the configured
    model server cannot serve, so the flow records that failure before doing any work."""
    inference_client(settings)


def make_inference_client(models: ModelSettings, min_gap_s: float | None = None) -> InferenceClient:
    """A new client for `models.model_backend` (not ready-checked; see `inference_client`); `min_gap_s`
    (EMSYNC_MIN_BOUNDARY_GAP_S) is the merge gap its music generator applies (None: the model's own)."""
    if models.model_backend == "triton":
        from serving.triton_http import TritonHttpClient

        # midi_generator serves v1, midi_generator_v2 serves v2 (serving/model_repository)
        return TritonHttpClient(models.triton_url, timeout_s=models.triton_timeout_s, retries=models.triton_retries,
                                music_variant=models.music_model, min_gap_s=min_gap_s)
    from serving.inprocess import InProcessClient

    return InProcessClient(emotion_checkpoint=models.emotion_checkpoint,
                           music_checkpoint=models.music_checkpoint, music_model=models.music_model,
                           min_gap_s=min_gap_s)


def inference_client(settings: Settings) -> InferenceClient:
    """The process-wide client for these settings, checked ready (raises ServingUnavailable)."""
    return _cached_client(settings.models, settings.cuts.min_boundary_gap_s)


@lru_cache(maxsize=4)
def _cached_client(models: ModelSettings, min_gap_s: float | None = None) -> InferenceClient:
    # Keyed on the frozen model group (every field that picks or reaches a model) and the merge gap the
    # generator applies; a failed readiness check is an exception, so lru_cache keeps no broken client
    # and the next call checks again.
    client = make_inference_client(models, min_gap_s)
    client.wait_ready()
    return client


def emotion_analyzer(settings: Settings) -> Any:  # noqa: ANN401 - EmotionAnalyzer, imported lazily
    """The analyzer for these settings, built once per process (its extractors load models)."""
    return _cached_analyzer(settings.models, settings.store.cache_dir / "features", settings.cuts.min_boundary_gap_s)


@lru_cache(maxsize=4)
def _cached_analyzer(models: ModelSettings, cache_dir: Path, min_gap_s: float | None = None) -> Any:  # noqa: ANN401
    from emsync_models.emotion.api import load_analyzer

    predictor = _cached_client(models, min_gap_s).emotion_predictor()  # the job's own client: one fusion head
    return load_analyzer(fusion_checkpoint=models.emotion_checkpoint, cache_dir=cache_dir,
                         clip_weights=models.clip_weights, audio_tagger_weights=models.audio_tagger_weights,
                         asr_weights=models.asr_weights, predictor=predictor)


def music_generator(settings: Settings) -> MusicGenerator:
    """The music contract's generator: the loaded model in-process, a Triton adapter otherwise."""
    return inference_client(settings).music_generator()
