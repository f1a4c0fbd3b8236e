"""What emotion analysis returns (plain dataclasses, no behaviour beyond construction helpers)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from emsync_models.emotion.labels import EKMAN6


@dataclass
class EmotionEstimate:
    probs: dict[str, float]      # Ekman-6, sums to 1
    valence: float               # [-1, 1]
    arousal: float               # [-1, 1]
    confidence: float            # [0, 1]

    @property
    def dominant(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)


@dataclass
class SceneEmotion:
    start_s: float
    end_s: float
    estimate: EmotionEstimate
    transcript: str = ""          # what pocketsphinx heard in the scene
    on_screen_text: str = ""      # what OCR read in the scene
    # modality -> {"weight", "valence"?, "arousal"?, "emotion"?, "cues"}: why this emotion
    contributions: dict[str, dict] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)   # e.g. ["speech: 'furious', 'terrified'"]


@dataclass
class VideoEmotion:
    overall: EmotionEstimate
    scenes: list[SceneEmotion]   # one per scene between cuts (after smoothing)
    model_name: str
    model_version: str
    extractors: dict[str, str]   # extractor name -> version
    contributions: dict[str, dict] = field(default_factory=dict)   # as per scene, whole video


def confidence_from_probs(probs: np.ndarray) -> float:
    """1 - normalised entropy: 0 for a uniform distribution, 1 for a one-hot one.

    Derived from the probabilities alone so every predictor (in-process, Triton, trained, default)
    reports confidence the same way.
    """
    p = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    p = p / p.sum()
    return float(np.clip(1.0 + (p * np.log(p)).sum() / math.log(p.size), 0.0, 1.0))


def estimate_from_arrays(probs: np.ndarray, va: np.ndarray) -> EmotionEstimate:
    p = np.asarray(probs, np.float64)
    p = p / p.sum()
    return EmotionEstimate(
        probs={k: float(v) for k, v in zip(EKMAN6, p, strict=True)},
        valence=float(np.clip(va[0], -1.0, 1.0)),
        arousal=float(np.clip(va[1], -1.0, 1.0)),
        confidence=confidence_from_probs(p),
    )
