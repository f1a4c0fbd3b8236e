"""Chord analysis on hand-built progressions and a real chorale."""

from __future__ import annotations

from emsync_models.music.analysis.chords import (
    analyse_chords,
    chord_change_times,
    chord_changes_from_notes,
    chord_labels,
)
from emsync_models.music.notes import Note, notes_to_midi

TRIADS = {"C:maj": (60, 64, 67), "F:maj": (65, 69, 72), "G:maj": (67, 71, 74), "A:min": (69, 72, 76)}


def progression(labels: list[str], seconds: float = 1.0, with_melody: bool = False) -> list[Note]:
    notes = []
    for i, label in enumerate(labels):
        t = i * seconds
        root, *_ = TRIADS[label]
        notes += [Note(1, p, 80, t, t + seconds) for p in TRIADS[label]]
        notes.append(Note(3, root - 24, 80, t, t + seconds))
        if with_melody:  # quick passing tones must not count as chord changes
            notes += [Note(4, root + 12 + step, 80, t + k * seconds / 4, t + (k + 1) * seconds / 4)
                      for k, step in enumerate((0, 2, 4, 5))]
    return notes


def test_labels_follow_a_block_chord_progression():
    midi = notes_to_midi(progression(["C:maj", "A:min", "F:maj", "G:maj", "C:maj"]))
    segments = chord_labels(midi)
    assert [s.label for s in segments] == ["C:maj", "A:min", "F:maj", "G:maj", "C:maj"]
    assert chord_change_times(midi) == [1.0, 2.0, 3.0, 4.0]


def test_passing_tones_do_not_create_changes():
    notes = progression(["C:maj", "C:maj", "F:maj", "F:maj"], seconds=1.0, with_melody=True)
    assert chord_changes_from_notes(notes) == [2.0]


def test_repeated_chord_is_not_a_change_and_silence_is_no_chord():
    notes = progression(["C:maj", "C:maj"]) + [Note(1, p, 80, 4.0, 5.0) for p in TRIADS["G:maj"]]
    segments = analyse_chords(notes)
    assert [s.label for s in segments][-1] == "G:maj"
    assert chord_changes_from_notes(notes)[-1] == 4.0  # the chord after the silence is a change


def test_drums_are_ignored_and_empty_music_has_no_chords():
    assert chord_changes_from_notes([Note(0, 36, 100, t * 0.5, t * 0.5 + 0.1) for t in range(8)]) == []
    assert analyse_chords([]) == []


def test_real_chorale_changes_chords_at_a_musical_rate():
    from music21 import corpus

    from emsync_models.music.v1.corpus import score_to_piece

    piece = score_to_piece(str(corpus.getWork("bwv66.6")))
    changes = chord_changes_from_notes(piece.notes)
    rate = len(changes) / piece.duration_s
    assert 0.2 < rate < 2.0  # chords every 0.5 - 5 s at the realised tempo
    onsets = {round(n.start, 3) for n in piece.notes}
    assert all(round(c, 3) in onsets for c in changes)  # changes fall on note onsets
