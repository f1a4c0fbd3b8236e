"""Mode of music from chroma (Krumhansl-Kessler profiles): the valence cue of the sound modality."""

from __future__ import annotations

import numpy as np

from emsync_models.emotion.extractors.audio import key_mode


def test_key_profiles_tell_major_from_minor():
    major, minor = np.zeros(12), np.zeros(12)
    major[[0, 4, 7]] = 1.0   # C E G
    minor[[0, 3, 7]] = 1.0   # C Eb G
    assert key_mode(major)[0] > 0 > key_mode(minor)[0]
    assert key_mode(np.ones(12)) == (0.0, 0.0)
