from __future__ import annotations

import numpy as np
import pytest

from emsync_models.emotion.api import EKMAN6, va_from_probs
from emsync_models.emotion.mapping import EKMAN6_VA, NRC_VAD_V1


def one_hot(label: str) -> dict[str, float]:
    return {k: float(k == label) for k in EKMAN6}


def test_pure_joy_is_positive_and_aroused():
    valence, arousal = va_from_probs(one_hot("joy"))
    assert valence > 0.5 and arousal > 0.3


def test_pure_sadness_is_negative_and_calm():
    valence, arousal = va_from_probs(one_hot("sadness"))
    assert valence < -0.5 and arousal < -0.2


def test_table_is_the_published_ratings_rescaled():
    assert set(NRC_VAD_V1) == set(EKMAN6)
    for i, label in enumerate(EKMAN6):
        v, a = NRC_VAD_V1[label]
        assert EKMAN6_VA[i] == pytest.approx([2 * v - 1, 2 * a - 1])


def test_weighted_mean_and_vector_form_agree():
    probs = np.array([0.1, 0.0, 0.2, 0.5, 0.2, 0.0])
    expected = probs @ EKMAN6_VA
    assert va_from_probs(probs) == pytest.approx(tuple(expected), abs=1e-6)
    assert va_from_probs(dict(zip(EKMAN6, probs * 3, strict=True))) == pytest.approx(tuple(expected), abs=1e-6)


def test_uniform_mixture_is_the_centroid():
    v, a = va_from_probs(np.ones(6))
    assert (v, a) == pytest.approx(tuple(EKMAN6_VA.mean(0)), abs=1e-6)


@pytest.mark.parametrize("bad", [{"happy": 1.0}, np.zeros(6), np.array([1.0, -1, 0, 0, 0, 1]), np.ones(5)])
def test_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        va_from_probs(bad)
