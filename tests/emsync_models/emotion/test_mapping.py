from __future__ import annotations

import numpy as np
import pytest

from emsync_models.emotion.api import EKMAN6, va_from_probs
from emsync_models.emotion.mapping import EKMAN6_VA, NRC_VAD_V1, REFERENCE_VA, circumplex_coordinates


def one_hot(label: str) -> dict[str, float]:
    return {k: float(k == label) for k in EKMAN6}


def test_pure_joy_is_positive_and_aroused():
    valence, arousal = va_from_probs(one_hot("joy"))
    assert valence > 0.5 and arousal > 0.3


def test_pure_sadness_is_negative_and_calm():
    valence, arousal = va_from_probs(one_hot("sadness"))
    assert valence < -0.5 and arousal < -0.2


def test_default_table_is_the_reference_classifiers():
    assert set(REFERENCE_VA) == set(EKMAN6)
    for i, label in enumerate(EKMAN6):
        assert EKMAN6_VA[i] == pytest.approx(REFERENCE_VA[label])
    assert REFERENCE_VA["joy"] == (0.76, 0.48) and REFERENCE_VA["fear"] == (-0.64, 0.60)


def test_nrc_vad_table_is_selectable_and_the_published_ratings_rescaled():
    table = circumplex_coordinates(EKMAN6, "nrc-vad")
    for i, label in enumerate(EKMAN6):
        v, a = NRC_VAD_V1[label]
        assert table[i] == pytest.approx([2 * v - 1, 2 * a - 1])
    assert va_from_probs(one_hot("joy"), table="nrc-vad") == pytest.approx((0.96, 0.648), abs=1e-4)
    with pytest.raises(ValueError, match="unknown valence/arousal table"):
        circumplex_coordinates(EKMAN6, "russell")


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
