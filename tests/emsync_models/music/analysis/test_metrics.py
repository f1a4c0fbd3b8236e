"""Metrics: alignment counting, Spearman, corpus statistics, analysis descriptors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emsync_models.music.analysis.descriptors import (
    inter_onset_intervals,
    key_of,
    note_density,
    pitch_class_entropy,
    pitch_class_histogram,
    polyphony,
)
from emsync_models.music.analysis.metrics import boundary_alignment, corpus_statistics, spearman
from emsync_models.music.notes import Note


def test_alignment_counts_hits_within_tolerance_and_penalises_silence():
    a = boundary_alignment([[2.0, 6.0], [4.0]], [[2.1, 6.5], []])
    assert a.boundaries == 3
    assert a.hit_share == pytest.approx(1 / 3)
    assert a.mean_abs_offset_s == pytest.approx((0.1 + 0.5 + 8.0) / 3)
    assert math.isnan(boundary_alignment([[]], [[1.0]]).hit_share)


def test_spearman_is_rank_based_and_nan_for_constant_input():
    assert spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_descriptors_on_a_known_texture():
    # C major triad held 2 s, then a 4-note scale: polyphony 3 then 1
    notes = [Note(1, p, 80, 0.0, 2.0) for p in (60, 64, 67)]
    notes += [Note(1, 60 + s, 80, 2.0 + 0.5 * i, 2.5 + 0.5 * i) for i, s in enumerate((0, 2, 4, 5))]
    notes.append(Note(0, 36, 100, 0.0, 0.1))  # drums never count
    assert note_density(notes, 4.0) == pytest.approx(7 / 4)
    assert polyphony(notes) == pytest.approx((3 * 2.0 + 1 * 2.0) / 4.0, abs=0.1)
    assert np.allclose(inter_onset_intervals(notes), [2.0, 0.5, 0.5, 0.5])
    assert key_of(pitch_class_histogram(notes))[:2] == (0, "major")
    assert 1.0 < pitch_class_entropy(notes) < math.log2(12)


def test_corpus_statistics_average_over_pieces():
    a = [Note(1, 60, 80, 0.0, 1.0), Note(1, 62, 80, 1.0, 2.0)]
    b = [Note(1, 60, 80, 0.0, 0.5), Note(1, 64, 80, 0.5, 1.0), Note(1, 67, 80, 1.0, 2.0)]
    stats = corpus_statistics([a, b, [Note(0, 36, 100, 0, 1)]], durations=[2.0, 2.0, 1.0])
    assert stats["pieces"] == 2  # the drums-only piece has no pitched statistics
    assert stats["note_density_per_s"] == pytest.approx((1.0 + 1.5) / 2)
    assert stats["polyphony"] == pytest.approx(1.0, abs=0.05)
