"""Public entry points of the emotion package: the result types, the analyzer, and its factory.

Typical use::

    analyzer = load_analyzer(fusion_checkpoint=settings.emotion_checkpoint, cache_dir=settings.cache_dir)
    result = analyzer.analyze(video, cuts_s, duration_s)

With no `fusion_checkpoint`, probabilities come from the label-free default (faces, speech, on-screen
words, colour and motion, sound, each weighted by its own confidence; see `default_head`).
Giving a checkpoint path switches to the trained fusion transformer; nothing else changes.
To serve fusion elsewhere (Triton), pass `predictor=` any callable with the `PredictFn` signature.
"""

from __future__ import annotations

from pathlib import Path

from emsync_models.emotion.analyzer import EmotionAnalyzer, Progress, scene_windows
from emsync_models.emotion.cache import FeatureCache
from emsync_models.emotion.extractors.audio import AudioAffectExtractor
from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.extractors.faces import FaceExpressionExtractor
from emsync_models.emotion.extractors.visual import VisualAffectExtractor
from emsync_models.emotion.fused_input import STEPS, FusedBatch
from emsync_models.emotion.labels import EKMAN6
from emsync_models.emotion.mapping import DEFAULT_VA_TABLE, va_from_probs
from emsync_models.emotion.predictor import FusionPredictor, PredictFn
from emsync_models.emotion.results import EmotionEstimate, SceneEmotion, VideoEmotion

__all__ = [
    "EKMAN6", "STEPS", "EmotionAnalyzer", "EmotionEstimate", "Extractor", "FeatureTrack", "FusedBatch",
    "FusionPredictor", "PredictFn", "Progress", "SceneEmotion", "VideoEmotion", "build_extractors",
    "load_analyzer", "scene_windows", "va_from_probs",
]


def build_extractors(text: bool = True, clip_weights: Path | None = None,
                     audio_tagger_weights: Path | None = None, asr_weights: Path | None = None,
                     face_rate_hz: float = 1.0, visual_rate_hz: float = 4.0,
                     text_rate_hz: float = 0.2, speech: bool = True) -> list[Extractor]:
    """The default extractor set plus any pluggable ones whose local weights are given.

    `text` (on-screen OCR) and `speech` (pocketsphinx) share one MiniLM and one word scorer.
    """
    extractors: list[Extractor] = [
        FaceExpressionExtractor(rate_hz=face_rate_hz),
        VisualAffectExtractor(rate_hz=visual_rate_hz),
        AudioAffectExtractor(),
    ]
    if text or speech:
        from emsync_models.emotion.extractors.text import OnScreenTextExtractor, WordFeatures

        words = WordFeatures()
        if text:
            extractors.append(OnScreenTextExtractor(rate_hz=text_rate_hz, words=words))
        if speech:
            from emsync_models.emotion.extractors.speech import SpeechExtractor

            extractors.append(SpeechExtractor(words=words))
    if clip_weights or audio_tagger_weights or asr_weights:
        from emsync_models.emotion.extractors import pluggable

        if clip_weights:
            extractors.append(pluggable.ClipExtractor.from_weights(clip_weights))
        if audio_tagger_weights:
            extractors.append(pluggable.AudioTaggerExtractor.from_weights(audio_tagger_weights))
        if asr_weights:
            extractors.append(pluggable.SpeechExtractor.from_weights(asr_weights))
    return extractors


def load_analyzer(fusion_checkpoint: Path | None = None, cache_dir: Path | None = None,
                  clip_weights: Path | None = None, audio_tagger_weights: Path | None = None,
                  asr_weights: Path | None = None, predictor: PredictFn | None = None,
                  text: bool = True, smoothing: float = 0.25, speech: bool = True,
                  va_table: str = DEFAULT_VA_TABLE) -> EmotionAnalyzer:
    """An analyzer with the default extractors (+ pluggables given weights) and the right head.

    `predictor` overrides the in-process fusion (e.g. a Triton client); otherwise the trained
    checkpoint at `fusion_checkpoint` is used, or the label-free default when that is None.
    `va_table` picks the category -> valence/arousal coordinates ("reference" or "nrc-vad").
    """
    if predictor is None:
        predictor = (FusionPredictor.from_checkpoint(Path(fusion_checkpoint), va_table) if fusion_checkpoint
                     else FusionPredictor.default(va_table))
    extractors = build_extractors(text=text, clip_weights=clip_weights, speech=speech,
                                  audio_tagger_weights=audio_tagger_weights, asr_weights=asr_weights)
    cache = FeatureCache(Path(cache_dir)) if cache_dir else None
    return EmotionAnalyzer(extractors, predictor=predictor, cache=cache, smoothing=smoothing)
