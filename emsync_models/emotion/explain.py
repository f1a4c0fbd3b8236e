"""Why this emotion: per window, each modality's share of the evidence and the cues a person can check.

Computed from the label-free evidence (`default_head`) on the same features whichever head made the
final estimate, so a trained or served head's output still comes with the cues that were present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from emsync_models.emotion.default_head import DefaultEmotionHead, Evidence, contribution_weights
from emsync_models.emotion.extractors.base import FeatureTrack
from emsync_models.emotion.fused_input import CORE_DIMS, mask_key, pack_batch
from emsync_models.emotion.labels import EKMAN6
from emsync_models.emotion.words import word_evidence

# Modality -> the name a reader knows it by.
DISPLAY = {"face": "faces", "visual": "colour/motion", "audio": "sound", "text": "on-screen text",
           "speech": "speech"}


@dataclass
class Contribution:
    weight: float                      # share of all confidence in this window, [0, 1]
    valence: float | None = None       # this modality's own direct valence, when it gives one
    arousal: float | None = None
    emotion: str | None = None         # its leading category, when it gives category evidence
    cues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out: dict = {"weight": round(self.weight, 4), "cues": list(self.cues)}
        for key in ("valence", "arousal"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 4)
        if self.emotion:
            out["emotion"] = self.emotion
        return out


@dataclass
class WindowExplanation:
    contributions: dict[str, Contribution]
    transcript: str = ""
    on_screen_text: str = ""

    def why(self, top: int = 3) -> list[str]:
        """Lines like "speech: 'furious', 'terrified'", strongest modality first."""
        ranked = sorted(self.contributions.items(), key=lambda kv: -kv[1].weight)
        return [f"{DISPLAY.get(m, m)}: {', '.join(c.cues)}" for m, c in ranked[:top] if c.cues and c.weight > 0.02]


def _mean(batch: Mapping[str, np.ndarray], modality: str, i: int) -> tuple[np.ndarray, int]:
    x, m = batch[modality][i], batch[mask_key(modality)][i]
    if not m.any():
        return np.zeros(x.shape[1]), 0
    return x[m].mean(0), int(m.sum())


def colour_cues(mean: np.ndarray) -> list[str]:
    brightness, saturation, warmth, motion, cuts = (float(v) for v in mean[:5])
    cues = []
    cues += ["bright"] if brightness > 0.6 else ["dark"] if brightness < 0.3 else []
    cues += ["saturated"] if saturation > 0.45 else ["desaturated"] if saturation < 0.18 else []
    cues += ["warm"] if warmth > 0.06 else ["cool"] if warmth < -0.06 else []
    cues += ["fast motion"] if motion > 0.08 else ["still"] if motion < 0.01 else []
    cues += [f"{cuts:.1f} cuts/s"] if cuts > 0.5 else []
    return cues


def sound_cues(mean: np.ndarray) -> list[str]:
    loud, centroid, onset, tempo, mode, tonal = (float(mean[i]) for i in (17, 18, 19, 21, 23, 24))
    if loud < 0.15:
        return ["silent"]
    cues = ["loud"] if loud > 0.7 else ["quiet"] if loud < 0.4 else []
    cues += ["busy onsets"] if onset > 0.2 else []
    cues += [f"~{tempo * 200:.0f} BPM"] if tempo > 0 and onset > 0.1 else []
    cues += ["bright timbre"] if centroid > 0.3 else []
    if tonal > 0.6:
        cues += ["major key"] if mode > 0.05 else ["minor key"] if mode < -0.05 else []
    return cues


def face_cues(ev: Evidence, i: int, mean: np.ndarray, sampled: int) -> list[str]:
    if float(ev.category_conf[i]) <= 0:
        return []
    top = EKMAN6[int(ev.probs[i].argmax())]
    return [f"{top} expression", f"face weight {float(mean[8]):.2f} over {sampled} samples"]


def word_cues(texts: Sequence[str]) -> list[str]:
    words: list[str] = []
    for text in texts:
        for cue in word_evidence(text).cues:
            if cue not in words:
                words.append(cue)
    return [f"'{w}'" for w in words[:5]]


def explain_windows(tracks: Mapping[str, FeatureTrack], windows: Sequence[tuple[float, float]],
                    head: DefaultEmotionHead | None = None) -> list[WindowExplanation]:
    head = head or DefaultEmotionHead()
    dims = {m: d for m, d in CORE_DIMS.items() if m in tracks and tracks[m].values.shape[1] == d}
    if not dims:
        return [WindowExplanation({}) for _ in windows]
    batch = pack_batch(tracks, windows, dims)
    with torch.inference_mode():
        evidence = head.evidence({k: torch.from_numpy(v) for k, v in batch.items()})
        shares = contribution_weights(evidence)
    out = []
    for i, (start, end) in enumerate(windows):
        heard = tracks["speech"].texts_between(start, end) if "speech" in tracks else []
        seen = tracks["text"].texts_between(start, end) if "text" in tracks else []
        contributions: dict[str, Contribution] = {}
        for modality, ev in evidence.items():
            mean, count = _mean(batch, modality, i)
            c = Contribution(float(shares[modality][i]))
            if float(ev.va_conf[i, 0]) > 0:
                c.valence = float(ev.va[i, 0])
            if float(ev.va_conf[i, 1]) > 0:
                c.arousal = float(ev.va[i, 1])
            if float(ev.category_conf[i]) > 0:
                c.emotion = EKMAN6[int(ev.probs[i].argmax())]
            if count:
                if modality == "visual":
                    c.cues = colour_cues(mean)
                elif modality == "audio":
                    c.cues = sound_cues(mean)
                elif modality == "face":
                    c.cues = face_cues(ev, i, mean, count)
                elif modality == "speech":
                    c.cues = word_cues(heard)
                elif modality == "text":
                    c.cues = word_cues(seen)
            contributions[modality] = c
        out.append(WindowExplanation(contributions, " / ".join(heard), " / ".join(seen)))
    return out
