"""v1's boundary offsets: the offset feature, and training/inference pointer agreement."""

from __future__ import annotations

import numpy as np

from emsync_models.music.notes import Note
from emsync_models.music.v1.boundaries import (
    CAP_S,
    BoundaryTracker,
    offset_feature,
    training_next_boundary,
)
from emsync_models.music.v1.vocab import CHORD, EventTokenizer


def test_offset_feature_is_capped_and_monotone():
    f = offset_feature(np.array([0.0, 2.0, 8.0, 20.0, -1.0]))
    assert np.allclose(f, [1.0, 0.75, 0.0, 0.0, 1.0])
    assert float(offset_feature(CAP_S)) == 0.0


def test_training_pointer_advances_on_chord_tokens():
    tok = EventTokenizer()
    notes = [Note(1, 60, 80, 0.0, 2.0), Note(1, 65, 80, 2.0, 4.0), Note(1, 67, 80, 4.0, 5.0)]
    tokens, times = tok.encode_notes(notes, chord_times=[2.0, 4.0])
    nb = training_next_boundary(tokens, times, [2.0, 4.0])
    first_chord = int(np.flatnonzero(tokens == CHORD)[0])
    assert np.all(nb[:first_chord] == 2.0)
    assert nb[first_chord] == 4.0
    assert np.isinf(nb[-1])
    assert np.all(nb - times >= -1e-6)  # the pending boundary is never in the past in training


def test_tracker_crosses_off_hits_and_misses():
    tr = BoundaryTracker([2.0, 6.0, 12.0])
    assert tr.seconds_to_next(0.0) == 2.0
    tr.update(CHORD, 1.5)  # within 1 s: a hit
    assert tr.hits == [2.0] and tr.seconds_to_next(1.5) == 4.5
    tr.update(5, 7.2)  # > 1 s past 6.0 without a CHORD: missed, move on
    assert tr.seconds_to_next(7.2) == 4.8
    tr.update(CHORD, 9.0)  # 3 s early: not a hit
    assert tr.hits == [2.0]
    assert BoundaryTracker([]).seconds_to_next(3.0) == CAP_S
