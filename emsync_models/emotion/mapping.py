"""Ekman-6 probabilities -> continuous valence/arousal on Russell's circumplex.

The music generator is conditioned on valence and arousal, Russell's two circumplex axes
(Russell, J. A. (1980). A circumplex model of affect. J. Personality and Social Psychology 39(6),
1161-1178). Russell's own figure places only some of our six words (it has no "disgust"), so every
coordinate here comes from one published rating study that covers all six words on those two axes:

    Mohammad, S. M. (2018). Obtaining Reliable Human Ratings of Valence, Arousal, and Dominance for
    20,000 English Words. Proc. ACL 2018, 174-184 (NRC VAD Lexicon v1, ratings in [0, 1]).

The lexicon's [0, 1] ratings are rescaled linearly to [-1, 1] (x -> 2x - 1) so that 0 is neutral.
An estimate is the probability-weighted mean of the category coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from emsync_models.emotion.labels import EKMAN6

# word: (valence, arousal) as published in NRC VAD v1, in [0, 1]. The only table of coordinates.
NRC_VAD_V1: dict[str, tuple[float, float]] = {
    "anger": (0.167, 0.865),
    "disgust": (0.052, 0.775),
    "fear": (0.073, 0.840),
    "joy": (0.980, 0.824),
    "sadness": (0.052, 0.288),
    "surprise": (0.875, 0.875),
}


def circumplex_coordinates(labels: Sequence[str] = EKMAN6) -> np.ndarray:
    """float32 [len(labels), 2] (valence, arousal) in [-1, 1], rows in `labels` order."""
    return np.array([[2.0 * v - 1.0, 2.0 * a - 1.0] for v, a in (NRC_VAD_V1[k] for k in labels)],
                    dtype=np.float32)


EKMAN6_VA: np.ndarray = circumplex_coordinates(EKMAN6)


def va_from_probs(probs: Mapping[str, float] | Sequence[float] | np.ndarray) -> tuple[float, float]:
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
    valence, arousal = (vec / total) @ EKMAN6_VA.astype(np.float64)
    return float(valence), float(arousal)


def va_from_prob_matrix(probs: np.ndarray) -> np.ndarray:
    """float32 [N, 2] for probs [N, 6] in EKMAN6 order (rows assumed normalised)."""
    return (np.asarray(probs, dtype=np.float32) @ EKMAN6_VA).astype(np.float32)
