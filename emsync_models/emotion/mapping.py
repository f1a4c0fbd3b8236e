"""Ekman-6 probabilities -> continuous valence/arousal on Russell's circumplex.

The music generator is conditioned on valence and arousal, Russell's two circumplex axes
(Russell, J. A. (1980). A circumplex model of affect. J. Personality and Social Psychology 39(6),
1161-1178). An estimate is the probability-weighted mean of the category coordinates; two tables of
coordinates are available:

- "reference" (the default): the category -> (valence, arousal) table of EMSYNC's released
  classifier, already in [-1, 1]. It keeps surprise and joy apart from the negative categories on
  arousal the way the music model was trained to hear them.
- "nrc-vad": the NRC VAD Lexicon v1 ratings of the six words (Mohammad, S. M. (2018). Obtaining
  Reliable Human Ratings of Valence, Arousal, and Dominance for 20,000 English Words. Proc. ACL 2018,
  174-184), published in [0, 1] and rescaled linearly to [-1, 1] (x -> 2x - 1) so that 0 is neutral.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from emsync_models.emotion.labels import EKMAN6

# word: (valence, arousal) in [-1, 1], from the released EMSYNC classifier (issue #14).
REFERENCE_VA: dict[str, tuple[float, float]] = {
    "anger": (-0.51, 0.59),
    "disgust": (-0.60, 0.35),
    "fear": (-0.64, 0.60),
    "joy": (0.76, 0.48),
    "sadness": (-0.63, -0.27),
    "surprise": (0.40, 0.67),
}

# word: (valence, arousal) as published in NRC VAD v1, in [0, 1].
NRC_VAD_V1: dict[str, tuple[float, float]] = {
    "anger": (0.167, 0.865),
    "disgust": (0.052, 0.775),
    "fear": (0.073, 0.840),
    "joy": (0.980, 0.824),
    "sadness": (0.052, 0.288),
    "surprise": (0.875, 0.875),
}

VA_TABLES: tuple[str, ...] = ("reference", "nrc-vad")
DEFAULT_VA_TABLE = "reference"


def circumplex_coordinates(labels: Sequence[str] = EKMAN6, table: str = DEFAULT_VA_TABLE) -> np.ndarray:
    """float32 [len(labels), 2] (valence, arousal) in [-1, 1], rows in `labels` order."""
    if table == "reference":
        rows = [REFERENCE_VA[k] for k in labels]
    elif table == "nrc-vad":
        rows = [(2.0 * v - 1.0, 2.0 * a - 1.0) for v, a in (NRC_VAD_V1[k] for k in labels)]
    else:
        raise ValueError(f"unknown valence/arousal table {table!r}; choose one of {', '.join(VA_TABLES)}")
    return np.array(rows, dtype=np.float32)


EKMAN6_VA: np.ndarray = circumplex_coordinates(EKMAN6)


def va_from_probs(probs: Mapping[str, float] | Sequence[float] | np.ndarray,
                  table: str = DEFAULT_VA_TABLE) -> tuple[float, float]:
    """(valence, arousal) in [-1, 1]: the probability-weighted mean of the category coordinates.

    `probs` is a {label: p} mapping over Ekman-6 or a length-6 vector in EKMAN6 order; it is
    renormalised, so unnormalised scores are fine as long as they are non-negative.
    """
    if isinstance(probs, Mapping):
        unknown = set(probs) - set(EKMAN6)
        if unknown:
            raise ValueError(f"not Ekman-6 labels: {sorted(unknown)}")
        vec = np.array([float(probs.get(k, 0.0)) for k in EKMAN6], dtype=np.float64)
    else:
        vec = np.asarray(probs, dtype=np.float64).reshape(-1)
        if vec.shape != (len(EKMAN6),):
            raise ValueError(f"expected {len(EKMAN6)} probabilities, got shape {vec.shape}")
    if np.any(vec < 0) or not np.all(np.isfinite(vec)):
        raise ValueError("probabilities must be finite and non-negative")
    total = vec.sum()
    if total <= 0:
        raise ValueError("probabilities sum to zero")
    valence, arousal = (vec / total) @ circumplex_coordinates(EKMAN6, table).astype(np.float64)
    return float(valence), float(arousal)


def va_from_prob_matrix(probs: np.ndarray, table: str = DEFAULT_VA_TABLE) -> np.ndarray:
    """float32 [N, 2] for probs [N, 6] in EKMAN6 order (rows assumed normalised)."""
    return (np.asarray(probs, dtype=np.float32) @ circumplex_coordinates(EKMAN6, table)).astype(np.float32)
